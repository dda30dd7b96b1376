"""The REPORTS menu (contract 1.10): GetStatistics. Translates the wire message, calls the use case
(``gateway.statistics``), translates back; what is counted is ``gateway.domain.statistics``'."""

from __future__ import annotations

from spyne import ServiceBase, rpc

from gateway.domain.statistics import Counts
from gateway.soap import types as t
from gateway.soap.types import many, optional, required
from gateway.statistics import Report, StatisticsReport


def counts_out(counts: Counts, reasons: dict[str, str]) -> t.StatisticsCounts:
    return t.StatisticsCounts(
        learners=counts.learners,
        arrivals=counts.arrivals,
        departures=counts.departures,
        departure=[
            t.DepartureCount(reasonCode=code, reasonName=reasons.get(code), count=count)
            for code, count in sorted(counts.departures_by_reason.items())
        ],
        basketRecipients=counts.basket_recipients,
        basketAmount=counts.basket_amount,
        clubAttendance=counts.club_attendance,
    )


def lines_out(report: Report, reasons: dict[str, str]) -> list[t.StatisticsLine]:
    dimensions = report.statistics.dimensions
    return [
        t.StatisticsLine(
            group=[
                t.StatisticsGroup(dimension=d.value, code=code, name=report.name_of(d, code))
                for d, code in zip(dimensions, key, strict=True)
            ],
            counts=counts_out(counts, reasons),
        )
        for key, counts in report.statistics.lines
    ]


class NvsReportsService(ServiceBase):
    @rpc(
        optional(t.SchoolYear),
        optional(t.Month),
        many(t.StatisticsDimension, 2, at_least=1),
        _returns=(many(t.StatisticsLine, "unbounded"), required(t.StatisticsCounts)),
        _out_variable_names=("line", "total"),
    )
    def GetStatistics(ctx, schoolYear, month, groupBy):
        use_case = StatisticsReport(ctx.udc.registry.uow_factory)
        report = use_case.for_caller(ctx.udc.caller, school_year=schoolYear, month=month, group_by=groupBy or ())
        reasons = use_case.departure_reasons()
        return lines_out(report, reasons), counts_out(report.statistics.total, reasons)
