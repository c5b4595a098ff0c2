"""The lexicon of the synthetic demo corpus (auditor.data.synthetic): names and sentence templates.

Written for this project in the style of PAN-X (WikiANN): Wikipedia-like sentence
fragments, list items, titles in quotes, parentheses and dates. Entries are
"|"-separated; multi-word names are split on spaces into tokens.
"""

from __future__ import annotations

LANGUAGES = ("de", "fr", "it", "en")

_SHARED_PER = (
    "Angela Merkel|Barack Obama|Marie Curie|Albert Einstein|Roger Federer|Lionel Messi|"
    "Wolfgang Amadeus Mozart|Ludwig van Beethoven|Johann Sebastian Bach|Leonardo da Vinci|"
    "Charles Darwin|Isaac Newton|Nelson Mandela|Frida Kahlo|Pablo Picasso|Greta Thunberg"
)

PER = {
    "de": _SHARED_PER + "|Hans Müller|Karl Schmidt|Ursula Becker|Friedrich Schiller|Johann Wolfgang von Goethe|"
    "Heinrich Böll|Thomas Mann|Gerhard Schröder|Helmut Kohl|Sabine Wagner|Jürgen Klopp|Franz Beckenbauer|"
    "Lise Meitner|Max Planck|Martin Luther|Klara Hofmann|Otto von Bismarck|Konrad Adenauer",
    "fr": _SHARED_PER + "|Jean Dupont|Marie Lefèvre|Victor Hugo|Émile Zola|Charles de Gaulle|Simone de Beauvoir|"
    "Jean-Paul Sartre|Édith Piaf|Claude Monet|Napoléon Bonaparte|Zinédine Zidane|Jacques Chirac|Louis Pasteur|"
    "Antoine de Saint-Exupéry|Camille Claudel|Pierre Boulez|Brigitte Bardot|Jean Moulin",
    "it": _SHARED_PER + "|Giuseppe Verdi|Dante Alighieri|Galileo Galilei|Sophia Loren|Giuseppe Garibaldi|"
    "Enrico Fermi|Rita Levi-Montalcini|Umberto Eco|Federico Fellini|Luciano Pavarotti|Alessandro Manzoni|"
    "Maria Montessori|Roberto Baggio|Sandro Pertini|Giovanni Rossi|Lucia Bianchi|Marco Polo|Italo Calvino",
    "en": _SHARED_PER + "|William Shakespeare|Jane Austen|Winston Churchill|Charles Dickens|Virginia Woolf|"
    "John Smith|Mary Johnson|Abraham Lincoln|George Washington|Elvis Presley|David Bowie|Ada Lovelace|"
    "Alan Turing|Florence Nightingale|Margaret Thatcher|Emily Brontë|Oscar Wilde|James Joyce",
}

# Organisations that exist in every language (translated); index-aligned across languages.
_SHARED_ORG = {
    "de": "Vereinte Nationen|Europäische Union|Weltgesundheitsorganisation|Internationales Olympisches Komitee|"
    "Rotes Kreuz|Europäische Zentralbank",
    "fr": "Nations unies|Union européenne|Organisation mondiale de la santé|Comité international olympique|"
    "Croix-Rouge|Banque centrale européenne",
    "it": "Nazioni Unite|Unione europea|Organizzazione mondiale della sanità|Comitato olimpico internazionale|"
    "Croce Rossa|Banca centrale europea",
    "en": "United Nations|European Union|World Health Organization|International Olympic Committee|"
    "Red Cross|European Central Bank",
}

ORG = {
    "de": _SHARED_ORG["de"] + "|FC Bayern München|Borussia Dortmund|Deutsche Bahn|Siemens|Volkswagen|"
    "Sozialdemokratische Partei Deutschlands|Christlich Demokratische Union|Deutscher Bundestag|"
    "Universität Heidelberg|Max-Planck-Gesellschaft|Lufthansa|Bundesverfassungsgericht|Hamburger SV|"
    "Berliner Philharmoniker|Technische Universität München|Deutsche Bank|FC Zürich|Schweizerische Bundesbahnen",
    "fr": _SHARED_ORG["fr"] + "|Paris Saint-Germain|Olympique de Marseille|Société nationale des chemins de fer|"
    "Renault|Parti socialiste|Assemblée nationale|Université de la Sorbonne|Air France|Banque de France|"
    "Académie française|Le Monde|Peugeot|Conseil constitutionnel|Institut Pasteur|AS Monaco|"
    "Parti libéral du Québec|Servette FC|Comédie-Française",
    "it": _SHARED_ORG["it"] + "|Juventus|AC Milan|Inter|Ferrovie dello Stato|Fiat|Partito Democratico|"
    "Camera dei deputati|Università di Bologna|Alitalia|Banca d'Italia|Corriere della Sera|Ferrari|"
    "Corte costituzionale|AS Roma|SSC Napoli|Teatro alla Scala|FC Lugano|Accademia della Crusca",
    "en": _SHARED_ORG["en"] + "|Manchester United|Arsenal|British Broadcasting Corporation|General Motors|"
    "Labour Party|Conservative Party|House of Commons|University of Oxford|Harvard University|Microsoft|"
    "New York Times|Royal Navy|Supreme Court|Liverpool FC|Chelsea|Boston Red Sox|National Geographic Society",
}

_SHARED_LOC = {
    "de": "Deutschland|Frankreich|Italien|Schweiz|Österreich|Vereinigte Staaten|Europa|Afrika",
    "fr": "Allemagne|France|Italie|Suisse|Autriche|États-Unis|Europe|Afrique",
    "it": "Germania|Francia|Italia|Svizzera|Austria|Stati Uniti|Europa|Africa",
    "en": "Germany|France|Italy|Switzerland|Austria|United States|Europe|Africa",
}

LOC = {
    "de": _SHARED_LOC["de"] + "|Berlin|München|Hamburg|Köln|Zürich|Genf|Bern|Wien|Rhein|Bodensee|Alpen|"
    "Schwarzwald|Nordsee|Savoyer Voralpen|Sankt Petersburg|Frankfurt am Main|Kanton Graubünden|Basel|"
    "Bayern|Nordrhein-Westfalen|Mont Blanc|Donau",
    "fr": _SHARED_LOC["fr"] + "|Paris|Lyon|Marseille|Bordeaux|Genève|Lausanne|Bruxelles|Seine|Loire|Alpes|"
    "Bretagne|Normandie|Corse|Provence|Québec|Montréal|Mont Blanc|Lac Léman|Nice|Toulouse|Strasbourg|Rhône",
    "it": _SHARED_LOC["it"] + "|Roma|Milano|Napoli|Torino|Firenze|Venezia|Lugano|Bellinzona|Sicilia|Sardegna|"
    "Toscana|Lombardia|Po|Lago di Como|Lago Maggiore|Monte Bianco|Canton Ticino|Bologna|Genova|Trieste|Alpi|Etna",
    "en": _SHARED_LOC["en"] + "|London|Manchester|Edinburgh|New York|Los Angeles|Chicago|Thames|Mississippi|"
    "Scotland|Wales|Ireland|California|Texas|Rocky Mountains|Lake Geneva|Sydney|Toronto|Dublin|Oxford Street|"
    "Hudson River|Isle of Wight|Cambridge",
}

MONTHS = {
    "de": "Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember",
    "fr": "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre",
    "it": "gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|dicembre",
    "en": "January|February|March|April|May|June|July|August|September|October|November|December",
}

# How a date is written: {d} day, {m} month name, {y} year; split into tokens on spaces.
DATE_FORMAT = {"de": "{d}. {m} {y}", "fr": "{d} {m} {y}", "it": "{d} {m} {y}", "en": "{m} {d} , {y}"}

# Parenthesised additions after an entity, as in "Lugano ( Schweiz )"; {LOC}/{YEAR} are filled.
PAREN = {
    "de": "( {YEAR} ) |( {LOC} ) |( Partei ) |( geboren {YEAR} ) |( Band ) ",
    "fr": "( {YEAR} ) |( {LOC} ) |( parti ) |( né en {YEAR} ) |( groupe ) ",
    "it": "( {YEAR} ) |( {LOC} ) |( partito ) |( nato nel {YEAR} ) |( gruppo ) ",
    "en": "( {YEAR} ) |( {LOC} ) |( party ) |( born {YEAR} ) |( band ) ",
}

# Templates: slots {PER} {ORG} {LOC} {DATE} {YEAR} {NUM}; {P} = an optional parenthesis, {PP} = always one.
TEMPLATES = {
    "de": [
        "{PER} {P} war ein deutscher Politiker der {ORG} .",
        "{PER} wurde am {DATE} in {LOC} geboren .",
        "Am {DATE} trat {PER} der {ORG} bei .",
        "Die Stadt liegt am {LOC} im Osten von {LOC} .",
        "als Teil der {LOC} im Osten .",
        "WEITERLEITUNG {PER} {PP}",
        "'' {ORG} '' ist ein Verein aus {LOC} .",
        "* {LOC} , {LOC} und {LOC}",
        "Spieler vom {ORG} ausgewählt sowie anschließend bei {ORG} .",
        "{ORG} {P} mit Sitz in {LOC} wurde {YEAR} gegründet .",
        "Er studierte an der {ORG} und arbeitete später für {PER} .",
        "{PER} , {PER} und {PER} spielten für {ORG} .",
        "Seit dem {DATE} ist {PER} Mitglied des Vorstands von {ORG} .",
        "Der Fluss mündet bei {LOC} in den {LOC} .",
        "** '' {PER} '' .",
        "Im Jahr {YEAR} zog {PER} nach {LOC} , wo er {NUM} Jahre blieb .",
        "{LOC} {P} ist eine Gemeinde im Bezirk {LOC} .",
        "Die Konferenz der {ORG} fand am {DATE} in {LOC} statt .",
        "{NUM} Spiele für {ORG} , danach Trainer in {LOC} .",
        "Nach einem Treffen mit {PER} kritisierte die {ORG} die Entscheidung .",
    ],
    "fr": [
        "{PER} {P} est un homme politique membre du {ORG} .",
        "{PER} est né le {DATE} à {LOC} .",
        "Le {DATE} , {PER} rejoint la {ORG} .",
        "La ville est située sur la {LOC} au nord de {LOC} .",
        "REDIRECTION {PER} {PP}",
        "'' {ORG} '' est un club basé à {LOC} .",
        "* {LOC} , {LOC} et {LOC}",
        "Joueur du {ORG} puis entraîneur de l' {ORG} .",
        "{ORG} {P} dont le siège est à {LOC} a été fondé en {YEAR} .",
        "Il a étudié à l' {ORG} avant de travailler avec {PER} .",
        "{PER} , {PER} et {PER} ont joué pour le {ORG} .",
        "Depuis le {DATE} , {PER} dirige le {ORG} .",
        "Le fleuve se jette dans la {LOC} près de {LOC} .",
        "** '' {PER} '' .",
        "En {YEAR} , {PER} s' installe à {LOC} pendant {NUM} ans .",
        "{LOC} {P} est une commune du canton de {LOC} .",
        "La conférence des {ORG} a eu lieu le {DATE} à {LOC} .",
        "{NUM} matchs avec le {ORG} , puis entraîneur à {LOC} .",
        "Après une rencontre avec {PER} , la {ORG} a critiqué la décision .",
    ],
    "it": [
        "{PER} {P} è stato un politico italiano del {ORG} .",
        "{PER} è nato il {DATE} a {LOC} .",
        "Il {DATE} {PER} entra nella {ORG} .",
        "La città si trova sul {LOC} a nord di {LOC} .",
        "REDIRECT {PER} {PP}",
        "'' {ORG} '' è una squadra di {LOC} .",
        "* {LOC} , {LOC} e {LOC}",
        "Giocatore della {ORG} e poi allenatore dell' {ORG} .",
        "{ORG} {P} con sede a {LOC} è stata fondata nel {YEAR} .",
        "Ha studiato all' {ORG} prima di lavorare con {PER} .",
        "{PER} , {PER} e {PER} hanno giocato per la {ORG} .",
        "Dal {DATE} {PER} è presidente della {ORG} .",
        "Il fiume sfocia nel {LOC} vicino a {LOC} .",
        "** '' {PER} '' .",
        "Nel {YEAR} {PER} si trasferisce a {LOC} per {NUM} anni .",
        "{LOC} {P} è un comune del {LOC} .",
        "La conferenza delle {ORG} si è svolta il {DATE} a {LOC} .",
        "{NUM} partite con la {ORG} , poi allenatore a {LOC} .",
        "Dopo un incontro con {PER} , la {ORG} ha criticato la decisione .",
    ],
    "en": [
        "{PER} {P} was a British politician of the {ORG} .",
        "{PER} was born on {DATE} in {LOC} .",
        "On {DATE} , {PER} joined the {ORG} .",
        "The town lies on the {LOC} north of {LOC} .",
        "REDIRECT {PER} {PP}",
        "'' {ORG} '' is a club based in {LOC} .",
        "* {LOC} , {LOC} and {LOC}",
        "He played for {ORG} and later coached {ORG} .",
        "{ORG} {P} , headquartered in {LOC} , was founded in {YEAR} .",
        "She studied at {ORG} before working with {PER} .",
        "{PER} , {PER} and {PER} played for {ORG} .",
        "Since {DATE} , {PER} has chaired the {ORG} .",
        "The river flows into the {LOC} near {LOC} .",
        "** '' {PER} '' .",
        "In {YEAR} , {PER} moved to {LOC} for {NUM} years .",
        "{LOC} {P} is a village in the county of {LOC} .",
        "The conference of the {ORG} took place on {DATE} in {LOC} .",
        "{NUM} games for {ORG} , then manager in {LOC} .",
        "After meeting {PER} , the {ORG} criticised the decision .",
    ],
}

# Surface forms that the noisy labeller gets wrong the same way every time
# (the chapter's "United Nations" tagged PER): (name, clean type, noisy type).
SYSTEMATIC = {
    "de": [("Vereinte Nationen", "ORG", "PER"), ("Europäische Union", "ORG", "LOC")],
    "fr": [("Nations unies", "ORG", "PER"), ("Union européenne", "ORG", "LOC")],
    "it": [("Nazioni Unite", "ORG", "PER"), ("Unione europea", "ORG", "LOC")],
    "en": [("United Nations", "ORG", "PER"), ("European Union", "ORG", "LOC")],
}
