"""A parcel's journey: the scans it will get, in simulated hours after booking.

Pure, with the randomness passed in. A journey runs pickup → origin hub → line haul →
destination city → out for delivery → signed, and a fate may bend it: ``delay`` (a long
silence in transit), ``lost`` (the carrier reports it lost), ``damaged`` (reported broken,
still delivered) or ``refused`` (the buyer refuses it; it goes back). An interception turns
the rest of a journey into a return.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

FATES = ("normal", "delay", "lost", "damaged", "refused")

CAPITALS = {
    "北京": "北京", "天津": "天津", "河北": "石家庄", "山西": "太原", "内蒙古": "呼和浩特",
    "辽宁": "沈阳", "吉林": "长春", "黑龙江": "哈尔滨", "上海": "上海", "江苏": "南京",
    "浙江": "杭州", "安徽": "合肥", "福建": "福州", "江西": "南昌", "山东": "济南",
    "河南": "郑州", "湖北": "武汉", "湖南": "长沙", "广东": "广州", "广西": "南宁",
    "海南": "海口", "重庆": "重庆", "四川": "成都", "贵州": "贵阳", "云南": "昆明",
    "西藏": "拉萨", "陕西": "西安", "甘肃": "兰州", "青海": "西宁", "宁夏": "银川",
    "新疆": "乌鲁木齐",
}  # fmt: skip
# Line-haul hours by how far apart the provinces are (same city, same province, other).
HAUL_HOURS = {"city": (2.0, 5.0), "province": (6.0, 14.0), "other": (14.0, 48.0)}


@dataclass(frozen=True, slots=True)
class PlannedScan:
    hours: float  # simulated hours after booking
    state: str  # Kuaidi100 state
    code: str  # statusCode
    context: str
    location: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Route:
    origin_province: str
    origin_city: str
    dest_province: str
    dest_city: str

    @property
    def reach(self) -> str:
        if self.origin_province != self.dest_province:
            return "other"
        return "city" if self.origin_city == self.dest_city else "province"


def _hub(province: str) -> str:
    return CAPITALS.get(province, province) + "转运中心"


def _outbound(route: Route, rng: random.Random, start: float) -> list[PlannedScan]:
    t = start + rng.uniform(1.0, 6.0)
    origin, dest = route.origin_city, route.dest_city
    scans = [PlannedScan(t, "1", "103", f"【{origin}】快件已揽收", origin)]
    t += rng.uniform(2.0, 5.0)
    scans.append(
        PlannedScan(t, "0", "1002", f"快件已到达【{_hub(route.origin_province)}】", origin)
    )
    t += rng.uniform(*HAUL_HOURS[route.reach])
    if route.reach == "other":
        hub = _hub(route.dest_province)
        scans.append(PlannedScan(t, "0", "1002", f"快件已到达【{hub}】", route.dest_province))
        t += rng.uniform(3.0, 8.0)
    scans.append(PlannedScan(t, "0", "1001", f"快件已到达【{dest}】派件城市", dest))
    return scans


def _last_mile(route: Route, rng: random.Random, start: float, fate: str) -> list[PlannedScan]:
    dest = route.dest_city
    t = start + rng.uniform(4.0, 12.0)
    scans = [PlannedScan(t, "5", "5", f"【{dest}】快递员正在派件", dest)]
    t += rng.uniform(1.0, 6.0)
    if fate == "refused":
        scans.append(PlannedScan(t, "14", "14", "收件人拒收，快件将退回寄件人", dest))
        return scans + return_journey(route, rng, t)
    scans.append(PlannedScan(t, "3", "301", "快件已签收，签收人：本人", dest))
    return scans


def return_journey(route: Route, rng: random.Random, start: float) -> list[PlannedScan]:
    t = start + rng.uniform(1.0, 4.0)
    origin = route.origin_city
    scans = [PlannedScan(t, "6", "6", "快件退回中，正发往寄件人", route.dest_city)]
    t += rng.uniform(*HAUL_HOURS[route.reach]) + rng.uniform(4.0, 10.0)
    scans.append(PlannedScan(t, "6", "6", f"退回件已到达【{origin}】", origin))
    t += rng.uniform(2.0, 8.0)
    scans.append(PlannedScan(t, "4", "4", "退回件已由寄件人签收", origin))
    return scans


def plan(
    route: Route, fate: str, rng: random.Random, *, delay_hours: float = 80.0
) -> list[PlannedScan]:
    """The scans of a new parcel."""
    scans = _outbound(route, rng, 0.0)
    if fate == "lost":
        depart = scans[1]
        t = depart.hours + rng.uniform(6.0, 20.0)
        return [
            *scans[:2],
            PlannedScan(t, "2", "211", "快件在运输途中丢失，已启动理赔", depart.location),
        ]
    if fate == "delay":
        shift = delay_hours
        scans = [*scans[:2], *(_shift(s, shift) for s in scans[2:])]
    if fate == "damaged":
        arrival = scans[-1]
        scans.append(
            PlannedScan(
                arrival.hours + 0.5, "2", "209", "快件外包装破损，已加固处理", arrival.location
            )
        )
    return scans + _last_mile(route, rng, scans[-1].hours, fate)


def _shift(scan: PlannedScan, hours: float) -> PlannedScan:
    return PlannedScan(scan.hours + hours, scan.state, scan.code, scan.context, scan.location)


def choose_fate(rng: random.Random, *, delay: float, loss: float, damage: float) -> str:
    roll = rng.random()
    for fate, share in (("lost", loss), ("delay", delay), ("damaged", damage)):
        if roll < share:
            return fate
        roll -= share
    return "normal"
