"""Batches (contract 1.9): RegisterStudents, DeregisterStudents, MarkFundingBatch.

Thin, as the other services: ``gateway.batches`` decides what a batch keeps and how each
record is answered, ``gateway.services.Registry`` runs the records. Each record's refusal is
answered in its result, as a fault detail without the correlation id (that is the call's).
"""

from __future__ import annotations

from spyne import Boolean, ServiceBase, rpc

from gateway import services
from gateway.batches import MAX_RECORDS, BatchMode, BatchResult, RecordResult
from gateway.domain.model import Departure
from gateway.soap import types as t
from gateway.soap.service import _caller, _registry, contract_in, funding_out, registration_out, warnings_out
from gateway.soap.types import make, many, optional, required

BATCH_ANSWER = ("written", "accepted", "refused", "result")


def _mode(atomic, validate_only) -> BatchMode:
    return BatchMode(atomic=bool(atomic), validate_only=bool(validate_only))


def _fault(result: RecordResult) -> t.RecordFault | None:
    refusal = result.refusal
    if refusal is None:
        return None
    return make(t.RecordFault, code=refusal.code, message=refusal.message, field=result.field)


def _registrations_out(batch: BatchResult[services.RegistrationView]) -> tuple:
    return (
        batch.written,
        batch.accepted,
        batch.refused,
        [
            make(
                t.RegistrationResult,
                index=r.index,
                outcome=r.outcome.value,
                registration=registration_out(r.value) if r.value is not None else None,
                warning=warnings_out(r.warnings),
                fault=_fault(r),
            )
            for r in batch.results
        ],
    )


def _answer(result_type):
    return dict(
        _returns=(
            required(Boolean),
            required(t.Count),
            required(t.Count),
            many(result_type, MAX_RECORDS, at_least=1),
        ),
        _out_variable_names=BATCH_ANSWER,
    )


class NvsBatchService(ServiceBase):
    @rpc(
        optional(Boolean),
        optional(Boolean),
        many(t.StudentRegistrationRecord, MAX_RECORDS, at_least=1),
        **_answer(t.RegistrationResult),
    )
    def RegisterStudents(ctx, atomic, validateOnly, record):
        records = [
            services.NewRegistration(r.personalCode, r.groupId, r.firstLearningDate, contract_in(r.contract))
            for r in record
        ]
        return _registrations_out(_registry(ctx).register_students(_caller(ctx), records, _mode(atomic, validateOnly)))

    @rpc(
        optional(Boolean),
        optional(Boolean),
        many(t.DeregistrationRecord, MAX_RECORDS, at_least=1),
        **_answer(t.RegistrationResult),
    )
    def DeregisterStudents(ctx, atomic, validateOnly, record):
        records = [
            services.Deregistration(
                r.registrationId,
                Departure(date=r.departureDate, reason_code=r.departureReasonCode, order_number=r.orderNumber),
            )
            for r in record
        ]
        return _registrations_out(
            _registry(ctx).deregister_students(_caller(ctx), records, _mode(atomic, validateOnly))
        )

    @rpc(
        optional(Boolean),
        optional(Boolean),
        many(t.FundingRecord, MAX_RECORDS, at_least=1),
        **_answer(t.FundingResult),
    )
    def MarkFundingBatch(ctx, atomic, validateOnly, record):
        records = [
            services.NewFunding(
                r.registrationId, tuple(r.fundingTypeCode or ()), r.fromMonth, r.toMonth, bool(r.specialNeeds)
            )
            for r in record
        ]
        registry = _registry(ctx)
        batch = registry.mark_funding_batch(_caller(ctx), records, _mode(atomic, validateOnly))
        names = registry.funding_type_names()
        results = []
        for r in batch.results:
            registration_id, marks = funding_out(r.value, names) if r.value is not None else (None, [])
            results.append(
                make(
                    t.FundingResult,
                    index=r.index,
                    outcome=r.outcome.value,
                    registrationId=registration_id,
                    mark=marks,
                    fault=_fault(r),
                )
            )
        return batch.written, batch.accepted, batch.refused, results
