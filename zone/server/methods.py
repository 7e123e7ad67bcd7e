"""The method table: every RPC the zone serves and who may call it. Deny by default.

The interceptor refuses any method missing from this table, and a test checks that the table
lists exactly the methods of the services the server registers. Public methods (health checking
and reflection) need no credentials: they reveal the API's shape and liveness, never data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zone.policy import Role

# The supervisor role (a regulator) is in no rule: it reads the supervision console only.
ALL_ROLES: frozenset[Role] = frozenset({"operator", "researcher", "admin"})
ADMIN: frozenset[Role] = frozenset({"admin"})
# Products are used under grants; admins hold one only if a grant names them.
DATA_USERS: frozenset[Role] = ALL_ROLES


@dataclass(frozen=True)
class MethodRule:
    """Who may call a method; ``public`` methods skip authentication and auditing."""

    roles: frozenset[Role]
    public: bool = False


_PUBLIC = MethodRule(roles=frozenset(), public=True)

METHOD_TABLE: Mapping[str, MethodRule] = {
    "/zone.v1.CatalogService/ListDatasets": MethodRule(ALL_ROLES),
    "/zone.v1.CatalogService/DescribeDataset": MethodRule(ALL_ROLES),
    "/zone.v1.CatalogService/ListProducts": MethodRule(ALL_ROLES),
    "/zone.v1.CatalogService/DescribeProduct": MethodRule(ALL_ROLES),
    "/zone.v1.StatisticsService/EstimateCost": MethodRule(DATA_USERS),
    "/zone.v1.StatisticsService/Query": MethodRule(DATA_USERS),
    "/zone.v1.JobService/SubmitTraining": MethodRule(DATA_USERS),
    "/zone.v1.JobService/GetJob": MethodRule(ALL_ROLES),
    "/zone.v1.JobService/WatchJob": MethodRule(ALL_ROLES),
    "/zone.v1.JobService/ListJobs": MethodRule(ALL_ROLES),
    "/zone.v1.JobService/CancelJob": MethodRule(ALL_ROLES),
    "/zone.v1.JobService/GetResult": MethodRule(ALL_ROLES),
    # Verification: the service authorizes each call by the caller's grant on the product.
    "/zone.v1.VerificationService/RegisterKey": MethodRule(DATA_USERS),
    "/zone.v1.VerificationService/DescribeKey": MethodRule(DATA_USERS),
    "/zone.v1.VerificationService/RevokeKey": MethodRule(DATA_USERS),
    "/zone.v1.VerificationService/Match": MethodRule(DATA_USERS),
    "/zone.v1.VerificationService/Score": MethodRule(DATA_USERS),
    # Consent: operators manage their own records (registering needs a grant on the product).
    "/zone.v1.ConsentService/RegisterConsent": MethodRule(DATA_USERS),
    "/zone.v1.ConsentService/RevokeConsent": MethodRule(DATA_USERS),
    "/zone.v1.ConsentService/DescribeConsent": MethodRule(DATA_USERS),
    "/zone.v1.ConsentService/ListConsents": MethodRule(DATA_USERS),
    "/zone.v1.ConsentService/ListChecksWithoutConsent": MethodRule(ADMIN),
    "/zone.v1.ConsentService/GetConsentReport": MethodRule(ADMIN),
    "/zone.v1.ConsentService/RevokeConsentToken": MethodRule(ADMIN),
    "/zone.v1.ReceiptService/GetReceipt": MethodRule(ALL_ROLES),
    # Cohorts: only their owner sees or erases them (admins hold none unless they upload).
    "/zone.v1.CohortService/UploadCohort": MethodRule(DATA_USERS),
    "/zone.v1.CohortService/DescribeCohort": MethodRule(DATA_USERS),
    "/zone.v1.CohortService/ListCohorts": MethodRule(DATA_USERS),
    "/zone.v1.CohortService/EraseCohort": MethodRule(DATA_USERS),
    "/zone.v1.CohortService/EstimateCost": MethodRule(DATA_USERS),
    "/zone.v1.CohortService/SubmitTraining": MethodRule(DATA_USERS),
    "/zone.v1.ModelService/ReviewModel": MethodRule(ADMIN),
    "/zone.v1.ModelService/DecideModel": MethodRule(ADMIN),
    "/zone.v1.AdminService/ReloadPolicies": MethodRule(ADMIN),
    "/zone.v1.AdminService/VerifyAudit": MethodRule(ADMIN),
    "/zone.v1.AdminService/GetBudgets": MethodRule(ADMIN),
    "/zone.v1.AdminService/GetUsage": MethodRule(ADMIN),
    "/zone.v1.AdminService/GetRevenue": MethodRule(ADMIN),
    "/zone.v1.AdminService/QueryAudit": MethodRule(ADMIN),
    "/zone.v1.AdminService/ActivateDataset": MethodRule(ADMIN),
    "/zone.v1.AdminService/ExitPrincipal": MethodRule(ADMIN),
    "/grpc.health.v1.Health/Check": _PUBLIC,
    "/grpc.health.v1.Health/Watch": _PUBLIC,
    "/grpc.health.v1.Health/List": _PUBLIC,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": _PUBLIC,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": _PUBLIC,
}
