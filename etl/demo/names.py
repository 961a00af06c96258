"""Word lists for `ebok demo-data`: Polish names, streets, towns and businesses.

Kept apart from the generator so that the lists can grow without burying the logic. The
spellings carry the diacritics a real ledger export has (ą ć ę ł ń ó ś ź ż), because an importer
that only ever saw ASCII names proves nothing about encodings.
"""

from __future__ import annotations

MALE_FIRST_NAMES = (
    "Adam Andrzej Antoni Bartłomiej Błażej Bogdan Czesław Dariusz Grzegorz Henryk Jacek Jakub "
    "Jan Janusz Jerzy Józef Kazimierz Krzysztof Leszek Łukasz Maciej Marek Mariusz Michał "
    "Mirosław Paweł Piotr Przemysław Radosław Ryszard Sławomir Stanisław Szymon Tadeusz Tomasz "
    "Wiesław Witold Wojciech Zbigniew Zdzisław"
).split()

FEMALE_FIRST_NAMES = (
    "Agnieszka Aleksandra Alicja Anna Barbara Beata Bożena Danuta Dorota Elżbieta Ewa Grażyna "
    "Halina Irena Jadwiga Joanna Jolanta Katarzyna Krystyna Łucja Magdalena Małgorzata Maria "
    "Marta Monika Renata Stanisława Teresa Urszula Wiesława Zofia Żaneta"
).split()

# Masculine forms; adjectival ones (-ski, -cki, -dzki) get feminine and plural forms by rule.
SURNAMES = (
    "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański "
    "Woźniak Dąbrowski Kozłowski Jankowski Mazur Wojciechowski Kwiatkowski Krawczyk Kaczmarek "
    "Piotrowski Grabowski Zając Pawłowski Michalski Król Wieczorek Jabłoński Wróbel Nowakowski "
    "Majewski Olszewski Stępień Malinowski Jaworski Adamczyk Dudek Nowicki Pawlak Górski "
    "Witkowski Walczak Sikora Baran Rutkowski Michalak Szewczyk Ostrowski Tomaszewski Pietrzak "
    "Duda Zalewski Wróblewski Jasiński Marciniak Sadowski Bąk Zawadzki Jakubowski Żółkiewski "
    "Chmielewski Włodarczyk Borkowski Czarnecki Sawicki Sokołowski Maciejewski Szczepański "
    "Kucharski Wilk Kalinowski Lis Mazurek Wysocki Kaźmierczak Wasilewski Sobczak Czerwiński "
    "Cieślak Głowacki Kołodziej Łuczak Gałązka Śliwiński Źrałek Żak Ślusarczyk"
).split()


def surname_forms(masculine: str) -> tuple[str, str, str]:
    """(masculine, feminine, plural): Kowalski/Kowalska/Kowalscy; Nowak stays Nowak."""
    if masculine.endswith("ki"):
        return masculine, masculine[:-1] + "a", masculine[:-2] + "cy"
    return masculine, masculine, masculine


# (prefix, name): a community is named after its street (`Wspólnota Mieszkaniowa Kwiatowa 5`).
STREETS = (
    ("ul.", "Świętokrzyska"),
    ("ul.", "Kwiatowa"),
    ("ul.", "Żółkiewskiego"),
    ("ul.", "Mickiewicza"),
    ("ul.", "Słowackiego"),
    ("ul.", "Kościuszki"),
    ("ul.", "Łokietka"),
    ("ul.", "Źródlana"),
    ("ul.", "Ogrodowa"),
    ("ul.", "Lipowa"),
    ("al.", "Jana Pawła II"),
    ("ul.", "Różana"),
    ("ul.", "Słoneczna"),
    ("ul.", "Długa"),
    ("ul.", "Łąkowa"),
    ("ul.", "Wiśniowa"),
    ("ul.", "Żurawia"),
    ("ul.", "Chełmońskiego"),
    ("ul.", "Grunwaldzka"),
    ("ul.", "Bohaterów Westerplatte"),
    ("ul.", "Kasztanowa"),
    ("ul.", "Brzozowa"),
    ("ul.", "Królewska"),
    ("ul.", "Sienkiewicza"),
    ("ul.", "Reymonta"),
    ("ul.", "Nałkowskiej"),
    ("ul.", "Skłodowskiej-Curie"),
    ("ul.", "Konopnickiej"),
    ("ul.", "Wyspiańskiego"),
    ("ul.", "Kopernika"),
    ("ul.", "Chopina"),
    ("ul.", "Moniuszki"),
    ("os.", "Złotego Wieku"),
    ("pl.", "Wolności"),
    ("ul.", "Piękna"),
    ("ul.", "Ściegiennego"),
    ("ul.", "Ćwiklińskiej"),
    ("ul.", "Gęsia"),
    ("ul.", "Zdrojowa"),
    ("ul.", "Pułaskiego"),
)

# (town, lowest postal code, highest postal code, who decides on housing allowances there).
# Codes are NNNNN integers within the town's real range, printed as NN-NNN.
TOWNS = (
    ("Kraków", 30001, 31999, "Prezydent Miasta Krakowa"),
    ("Warszawa", 1, 4999, "Prezydent m.st. Warszawy"),
    ("Łódź", 90001, 94999, "Prezydent Miasta Łodzi"),
    ("Wrocław", 50001, 54999, "Prezydent Wrocławia"),
    ("Poznań", 60001, 61999, "Prezydent Miasta Poznania"),
    ("Gdańsk", 80001, 80999, "Prezydent Miasta Gdańska"),
    ("Szczecin", 70001, 71999, "Prezydent Miasta Szczecin"),
    ("Lublin", 20001, 20999, "Prezydent Miasta Lublin"),
    ("Białystok", 15001, 15999, "Prezydent Miasta Białegostoku"),
    ("Katowice", 40001, 40999, "Prezydent Miasta Katowice"),
    ("Rzeszów", 35001, 35999, "Prezydent Miasta Rzeszowa"),
    ("Toruń", 87100, 87119, "Prezydent Miasta Torunia"),
    ("Kielce", 25001, 25999, "Prezydent Miasta Kielce"),
    ("Zielona Góra", 65001, 65999, "Prezydent Miasta Zielona Góra"),
    ("Bielsko-Biała", 43300, 43399, "Prezydent Miasta Bielska-Białej"),
    ("Nowy Sącz", 33300, 33399, "Prezydent Miasta Nowego Sącza"),
    ("Zakopane", 34500, 34500, "Burmistrz Miasta Zakopane"),
    ("Wieliczka", 32020, 32020, "Burmistrz Miasta i Gminy Wieliczka"),
    ("Świnoujście", 72600, 72609, "Prezydent Miasta Świnoujście"),
    ("Ząbki", 5091, 5091, "Burmistrz Miasta Ząbki"),
)

# Tenants of commercial premises (lokale użytkowe).
BUSINESSES = (
    "Piekarnia „Złoty Kłos” s.c.",
    "Apteka Pod Złotym Lwem Sp. z o.o.",
    "Salon Fryzjerski Małgorzata Wiśniewska",
    "Kwiaciarnia Różana s.c.",
    "Biuro Rachunkowe Księgowość-Plus Sp. z o.o.",
    "Gabinet Stomatologiczny Łucja Nowicka",
    "Sklep Spożywczy Jan Kowalczyk",
    "Pracownia Krawiecka Halina Dudek",
    "Kancelaria Notarialna Piotr Zając",
    "Księgarnia Żółty Żuraw Sp. z o.o.",
    "Pracownia Ślusarska Zdzisław Bąk",
    "Gmina Miejska — lokal socjalny",
)

# Banks' 8-digit settlement numbers (numer rozliczeniowy) as they start real NRBs.
BANK_CODES = ("10901014", "10202892", "11602202", "12401037", "10501445", "11402004")

# Tax office prefixes for NIP numbers.
NIP_PREFIXES = ("676", "677", "525", "526", "727", "779", "584", "851", "946", "813")
