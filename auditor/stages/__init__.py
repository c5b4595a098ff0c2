"""One body per stage of the cycle, shared by the pipeline runner (auditor.pipeline) and the
stage's own CLI command (`auditor apply`, `auditor report`, `auditor export`, `auditor review`),
so both refuse the same things with the same messages and write the same artifacts.

Each module holds one stage: `run(ctx)` is the body the runner calls (returns its one-line
note), `check(ctx)` says why an artifact on disk cannot be reused, and where a CLI command
exists, a function taking a RunDir that both call.
"""
