"""The life of a school year (contract 1.7): TransferStudent, CloseGroup, DeleteGroup, RollOverGroups.

Thin, as the other services: the rules are in ``gateway.domain.model`` and ``gateway.domain.funding``,
the transactions in ``gateway.services.Registry``.
"""

from __future__ import annotations

from spyne import Boolean, ServiceBase, rpc

from gateway.soap import types as t
from gateway.soap.service import _caller, _registry, group_out, registration_out, warnings_out
from gateway.soap.types import many, optional, required


class NvsSchoolYearService(ServiceBase):
    @rpc(
        required(t.Identifier),
        required(t.Identifier),
        required(t.RegisterDate),
        _returns=(required(t.Registration), required(t.Registration), many(t.Warning, 10)),
        _out_variable_names=("endedRegistration", "registration", "warning"),
    )
    def TransferStudent(ctx, registrationId, groupId, fromDate):
        moved = _registry(ctx).transfer_student(_caller(ctx), registrationId, groupId, fromDate)
        return registration_out(moved.ended), registration_out(moved.started), warnings_out(moved.warnings)

    @rpc(required(t.Identifier), required(t.RegisterDate), _returns=required(t.Group), _out_variable_name="group")
    def CloseGroup(ctx, groupId, closingDate):
        return group_out(_registry(ctx).close_group(_caller(ctx), groupId, closingDate))

    @rpc(required(t.Identifier), _returns=required(t.Identifier), _out_variable_name="groupId")
    def DeleteGroup(ctx, groupId):
        _registry(ctx).delete_group(_caller(ctx), groupId)
        return groupId

    @rpc(
        required(t.SchoolYear),
        required(t.SchoolYear),
        many(t.Identifier, 200),
        optional(Boolean),
        _returns=(required(t.SchoolYear), many(t.RolledOverGroup, 2000)),
        _out_variable_names=("toYear", "rolledOver"),
    )
    def RollOverGroups(ctx, fromYear, toYear, groupId, carryLearners):
        results = _registry(ctx).roll_over_groups(
            _caller(ctx), fromYear, toYear, tuple(groupId or ()), carry_learners=bool(carryLearners)
        )
        return toYear, [
            t.RolledOverGroup(
                fromGroupId=r.origin.id,
                group=group_out(r.copy),
                created=r.created,
                carriedLearners=len(r.carried),
                # The learners moved are named in the answer (and so in the access log of the call).
                registration=[registration_out(v) for v in r.carried],
                warning=warnings_out(r.warnings),
            )
            for r in results
        ]
