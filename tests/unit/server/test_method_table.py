"""The method table lists exactly the methods of the services the server registers."""

from __future__ import annotations

from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from zone._proto import (
    admin_pb2,
    catalog_pb2,
    cohorts_pb2,
    consent_pb2,
    jobs_pb2,
    models_pb2,
    receipts_pb2,
    reflection_v1_pb2,
    statistics_pb2,
    verification_pb2,
)
from zone.server.app import SERVICE_NAMES
from zone.server.methods import METHOD_TABLE
from zone.server.servicers.admin import AdminServicer
from zone.server.servicers.catalog import CatalogServicer
from zone.server.servicers.cohorts import CohortServicer
from zone.server.servicers.consent import ConsentServicer
from zone.server.servicers.jobs import JobServicer
from zone.server.servicers.models import ModelServicer
from zone.server.servicers.receipts import ReceiptServicer
from zone.server.servicers.statistics import StatisticsServicer
from zone.server.servicers.verification import VerificationServicer


def _methods(file_descriptor: object) -> set[str]:
    return {
        f"/{service.full_name}/{method.name}"
        for service in file_descriptor.services_by_name.values()  # type: ignore[attr-defined]
        for method in service.methods
    }


def test_table_covers_exactly_the_registered_services() -> None:
    served = (
        _methods(catalog_pb2.DESCRIPTOR)
        | _methods(admin_pb2.DESCRIPTOR)
        | _methods(statistics_pb2.DESCRIPTOR)
        | _methods(jobs_pb2.DESCRIPTOR)
        | _methods(receipts_pb2.DESCRIPTOR)
        | _methods(models_pb2.DESCRIPTOR)
        | _methods(verification_pb2.DESCRIPTOR)
        | _methods(consent_pb2.DESCRIPTOR)
        | _methods(cohorts_pb2.DESCRIPTOR)
        | _methods(health_pb2.DESCRIPTOR)
        | _methods(reflection_pb2.DESCRIPTOR)
        | _methods(reflection_v1_pb2.DESCRIPTOR)
    )
    assert set(METHOD_TABLE) == served


def test_every_zone_method_is_implemented_and_guarded() -> None:
    for servicer, file_descriptor in (
        (CatalogServicer, catalog_pb2.DESCRIPTOR),
        (AdminServicer, admin_pb2.DESCRIPTOR),
        (StatisticsServicer, statistics_pb2.DESCRIPTOR),
        (JobServicer, jobs_pb2.DESCRIPTOR),
        (ReceiptServicer, receipts_pb2.DESCRIPTOR),
        (ModelServicer, models_pb2.DESCRIPTOR),
        (VerificationServicer, verification_pb2.DESCRIPTOR),
        (ConsentServicer, consent_pb2.DESCRIPTOR),
        (CohortServicer, cohorts_pb2.DESCRIPTOR),
    ):
        for method in _methods(file_descriptor):
            name = method.rsplit("/", 1)[1]
            assert name in vars(servicer), f"{servicer.__name__} does not implement {name}"
            rule = METHOD_TABLE[method]
            assert not rule.public and rule.roles, method


def test_admin_methods_are_admin_only() -> None:
    admin_consent = {"ListChecksWithoutConsent", "GetConsentReport", "RevokeConsentToken"}
    for method, rule in METHOD_TABLE.items():
        service, name = method.strip("/").split("/")
        if service in ("zone.v1.AdminService", "zone.v1.ModelService") or (
            service == "zone.v1.ConsentService" and name in admin_consent
        ):
            assert rule.roles == {"admin"}, method
    consent = [m for m in METHOD_TABLE if m.startswith("/zone.v1.ConsentService/")]
    assert len(consent) == 7


def test_service_names_match_registered_zone_services() -> None:
    assert set(SERVICE_NAMES) == {
        "zone.v1.CatalogService",
        "zone.v1.AdminService",
        "zone.v1.StatisticsService",
        "zone.v1.JobService",
        "zone.v1.ReceiptService",
        "zone.v1.VerificationService",
        "zone.v1.ModelService",
        "zone.v1.ConsentService",
        "zone.v1.CohortService",
    }
