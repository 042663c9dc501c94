"""Places and shipping zones: provinces of mainland China, their neighbours, and the zone of a
lane (same city, same province, neighbouring provinces, far).

Addresses carry free text ("上海市 Shanghai", "浙江省", "Zhejiang"); :func:`province_of`
turns it into the province's short Chinese name, the key every table here uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from kuaidan.core.errors import InvalidInput

# Short name → English name. Municipalities and autonomous regions count as provinces.
PROVINCES: dict[str, str] = {
    "北京": "Beijing",
    "天津": "Tianjin",
    "河北": "Hebei",
    "山西": "Shanxi",
    "内蒙古": "Inner Mongolia",
    "辽宁": "Liaoning",
    "吉林": "Jilin",
    "黑龙江": "Heilongjiang",
    "上海": "Shanghai",
    "江苏": "Jiangsu",
    "浙江": "Zhejiang",
    "安徽": "Anhui",
    "福建": "Fujian",
    "江西": "Jiangxi",
    "山东": "Shandong",
    "河南": "Henan",
    "湖北": "Hubei",
    "湖南": "Hunan",
    "广东": "Guangdong",
    "广西": "Guangxi",
    "海南": "Hainan",
    "重庆": "Chongqing",
    "四川": "Sichuan",
    "贵州": "Guizhou",
    "云南": "Yunnan",
    "西藏": "Tibet",
    "陕西": "Shaanxi",
    "甘肃": "Gansu",
    "青海": "Qinghai",
    "宁夏": "Ningxia",
    "新疆": "Xinjiang",
}

# Land borders (and the short strait between Guangdong and Hainan, which parcels cross daily).
_BORDERS = """
北京:天津,河北 天津:河北 河北:山西,内蒙古,辽宁,山东,河南 山西:内蒙古,陕西,河南
内蒙古:黑龙江,吉林,辽宁,陕西,宁夏,甘肃 辽宁:吉林 吉林:黑龙江 上海:江苏,浙江
江苏:浙江,安徽,山东 浙江:安徽,江西,福建 安徽:江西,湖北,河南,山东 福建:江西,广东
江西:湖北,湖南,广东 山东:河南 河南:陕西,湖北 湖北:湖南,重庆,陕西 湖南:广东,广西,贵州,重庆
广东:广西,海南 广西:贵州,云南 重庆:四川,贵州,陕西 四川:贵州,云南,西藏,青海,甘肃,陕西
贵州:云南 云南:西藏 西藏:新疆,青海 陕西:甘肃,宁夏 甘肃:宁夏,新疆,青海 青海:新疆
"""


def _neighbours() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {name: set() for name in PROVINCES}
    for entry in _BORDERS.split():
        name, _, others = entry.partition(":")
        for other in others.split(","):
            table[name].add(other)
            table[other].add(name)
    return {name: frozenset(others) for name, others in table.items()}


NEIGHBOURS: dict[str, frozenset[str]] = _neighbours()
_ENGLISH = {english.lower(): short for short, english in PROVINCES.items()}
# Longest names first, so that no short name matches inside a longer one.
_BY_LENGTH = sorted(PROVINCES, key=len, reverse=True)
_CITY_SUFFIX = re.compile(r"(市|地区|自治州|盟)$")


class Zone(StrEnum):
    """How far a parcel travels; price tables and promises are per zone."""

    SAME_CITY = "same_city"
    SAME_PROVINCE = "same_province"
    NEIGHBOURING = "neighbouring"
    FAR = "far"


@dataclass(frozen=True, slots=True)
class Place:
    """A province (short name, e.g. ``浙江``) and a city (e.g. ``杭州``)."""

    province: str
    city: str

    @property
    def key(self) -> str:
        return f"{self.province}/{self.city}"


def province_of(text: str) -> str:
    """The short name of the province named in ``text``; ``InvalidInput`` when there is none."""
    cleaned = " ".join(text.split())
    for name in _BY_LENGTH:
        if name in cleaned:
            return name
    for word in [cleaned.lower(), *cleaned.lower().split(" ")]:
        if word in _ENGLISH:
            return _ENGLISH[word]
    raise InvalidInput("not a province of mainland China", details={"province": text[:50]})


def city_of(text: str) -> str:
    """A city's comparable name: its first word without the 市/地区 suffix (``上海市 Shanghai``
    → ``上海``)."""
    words = text.split()
    if not words:
        raise InvalidInput("a city is needed")
    return _CITY_SUFFIX.sub("", words[0]) or words[0]


def place_of(province: str, city: str) -> Place:
    """A :class:`Place` from an address's free-text province and city."""
    return Place(province_of(province), city_of(city))


def zone_between(origin: Place, destination: Place) -> Zone:
    if origin.province == destination.province:
        return Zone.SAME_CITY if origin.city == destination.city else Zone.SAME_PROVINCE
    if destination.province in NEIGHBOURS.get(origin.province, frozenset()):
        return Zone.NEIGHBOURING
    return Zone.FAR
