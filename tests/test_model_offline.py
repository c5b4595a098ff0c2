"""A model name that is not cached, on a machine that cannot reach the Hub: one quick check,
then one line, never the Hub client's retries with backoff (issue 14)."""

from __future__ import annotations

import socket

import pytest
from huggingface_hub import constants

from auditor.config import ModelConfig
from auditor.errors import ModelError
from auditor.modeling import factory


@pytest.fixture
def no_hub(monkeypatch):
    """Online mode, with the Hub endpoint on a local port nothing listens on."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(factory, "_hub_state", None, raising=False)
    asked_online: list[str] = []

    def lookup(cls, name, local_files_only=False, **kw):
        if not local_files_only:
            asked_online.append(name)  # the Hub client would now retry for about 30 s
            raise OSError("would have gone to the network")
        if name == "cached/model":
            return object()
        raise OSError(f"{name} is not in the cache")

    from transformers import AutoConfig

    monkeypatch.setattr(AutoConfig, "from_pretrained", classmethod(lookup))
    return asked_online


def test_unknown_name_fails_without_going_online(no_hub):
    with pytest.raises(ModelError, match="cannot be reached") as err:
        factory.check_model_available("nobody/no-such-model")
    assert no_hub == []
    assert "nobody/no-such-model" in str(err.value) and "\n" not in str(err.value)


def test_cached_name_is_used_while_the_hub_is_unreachable(no_hub, tmp_path):
    assert factory.resolve_model(ModelConfig(name="cached/model"), None, tmp_path) == "cached/model"
    assert no_hub == []
