import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExitPrincipalRequest(_message.Message):
    __slots__ = ("principal", "note")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    principal: str
    note: str
    def __init__(self, principal: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ExitPrincipalResponse(_message.Message):
    __slots__ = ("receipt_id", "receipt_json", "audit_seq", "already_exited")
    RECEIPT_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_JSON_FIELD_NUMBER: _ClassVar[int]
    AUDIT_SEQ_FIELD_NUMBER: _ClassVar[int]
    ALREADY_EXITED_FIELD_NUMBER: _ClassVar[int]
    receipt_id: str
    receipt_json: str
    audit_seq: int
    already_exited: bool
    def __init__(self, receipt_id: _Optional[str] = ..., receipt_json: _Optional[str] = ..., audit_seq: _Optional[int] = ..., already_exited: _Optional[bool] = ...) -> None: ...

class ReloadPoliciesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadPoliciesResponse(_message.Message):
    __slots__ = ("policy_digest", "previous_digest", "principals", "grants", "products", "dataset_versions", "serving_digest")
    class DatasetVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SERVING_DIGEST_FIELD_NUMBER: _ClassVar[int]
    policy_digest: str
    previous_digest: str
    principals: int
    grants: int
    products: int
    dataset_versions: _containers.ScalarMap[str, str]
    serving_digest: str
    def __init__(self, policy_digest: _Optional[str] = ..., previous_digest: _Optional[str] = ..., principals: _Optional[int] = ..., grants: _Optional[int] = ..., products: _Optional[int] = ..., dataset_versions: _Optional[_Mapping[str, str]] = ..., serving_digest: _Optional[str] = ...) -> None: ...

class ActivateDatasetRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ActivateDatasetResponse(_message.Message):
    __slots__ = ("name", "version", "previous_version", "report_digest", "policy_digest")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    REPORT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    previous_version: str
    report_digest: str
    policy_digest: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., previous_version: _Optional[str] = ..., report_digest: _Optional[str] = ..., policy_digest: _Optional[str] = ...) -> None: ...

class VerifyAuditRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditResponse(_message.Message):
    __slots__ = ("ok", "length", "head_hash", "first_bad_seq", "reason")
    OK_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    length: int
    head_hash: str
    first_bad_seq: int
    reason: str
    def __init__(self, ok: _Optional[bool] = ..., length: _Optional[int] = ..., head_hash: _Optional[str] = ..., first_bad_seq: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class BudgetAmount(_message.Message):
    __slots__ = ("epsilon_micro", "delta_femto")
    EPSILON_MICRO_FIELD_NUMBER: _ClassVar[int]
    DELTA_FEMTO_FIELD_NUMBER: _ClassVar[int]
    epsilon_micro: int
    delta_femto: int
    def __init__(self, epsilon_micro: _Optional[int] = ..., delta_femto: _Optional[int] = ...) -> None: ...

class GetBudgetsRequest(_message.Message):
    __slots__ = ("principal", "dataset")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    principal: str
    dataset: str
    def __init__(self, principal: _Optional[str] = ..., dataset: _Optional[str] = ...) -> None: ...

class PrincipalBudget(_message.Message):
    __slots__ = ("principal", "dataset", "limit", "spent", "remaining", "granted")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    principal: str
    dataset: str
    limit: BudgetAmount
    spent: BudgetAmount
    remaining: BudgetAmount
    granted: bool
    def __init__(self, principal: _Optional[str] = ..., dataset: _Optional[str] = ..., limit: _Optional[_Union[BudgetAmount, _Mapping]] = ..., spent: _Optional[_Union[BudgetAmount, _Mapping]] = ..., remaining: _Optional[_Union[BudgetAmount, _Mapping]] = ..., granted: _Optional[bool] = ...) -> None: ...

class DatasetCap(_message.Message):
    __slots__ = ("dataset", "cap", "spent", "remaining")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    cap: BudgetAmount
    spent: BudgetAmount
    remaining: BudgetAmount
    def __init__(self, dataset: _Optional[str] = ..., cap: _Optional[_Union[BudgetAmount, _Mapping]] = ..., spent: _Optional[_Union[BudgetAmount, _Mapping]] = ..., remaining: _Optional[_Union[BudgetAmount, _Mapping]] = ...) -> None: ...

class GetBudgetsResponse(_message.Message):
    __slots__ = ("budgets", "caps")
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    CAPS_FIELD_NUMBER: _ClassVar[int]
    budgets: _containers.RepeatedCompositeFieldContainer[PrincipalBudget]
    caps: _containers.RepeatedCompositeFieldContainer[DatasetCap]
    def __init__(self, budgets: _Optional[_Iterable[_Union[PrincipalBudget, _Mapping]]] = ..., caps: _Optional[_Iterable[_Union[DatasetCap, _Mapping]]] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("start", "end", "principal", "product")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    principal: str
    product: str
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., principal: _Optional[str] = ..., product: _Optional[str] = ...) -> None: ...

class UsageRow(_message.Message):
    __slots__ = ("principal", "product", "currency", "calls", "jobs", "unbilled", "amount_micro", "waived_micro")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    UNBILLED_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICRO_FIELD_NUMBER: _ClassVar[int]
    WAIVED_MICRO_FIELD_NUMBER: _ClassVar[int]
    principal: str
    product: str
    currency: str
    calls: int
    jobs: int
    unbilled: int
    amount_micro: int
    waived_micro: int
    def __init__(self, principal: _Optional[str] = ..., product: _Optional[str] = ..., currency: _Optional[str] = ..., calls: _Optional[int] = ..., jobs: _Optional[int] = ..., unbilled: _Optional[int] = ..., amount_micro: _Optional[int] = ..., waived_micro: _Optional[int] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[UsageRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[UsageRow, _Mapping]]] = ...) -> None: ...

class GetRevenueRequest(_message.Message):
    __slots__ = ("start", "end", "provider")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    provider: str
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provider: _Optional[str] = ...) -> None: ...

class RevenueRow(_message.Message):
    __slots__ = ("provider", "currency", "amount_micro", "charges")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICRO_FIELD_NUMBER: _ClassVar[int]
    CHARGES_FIELD_NUMBER: _ClassVar[int]
    provider: str
    currency: str
    amount_micro: int
    charges: int
    def __init__(self, provider: _Optional[str] = ..., currency: _Optional[str] = ..., amount_micro: _Optional[int] = ..., charges: _Optional[int] = ...) -> None: ...

class GetRevenueResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[RevenueRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[RevenueRow, _Mapping]]] = ...) -> None: ...

class QueryAuditRequest(_message.Message):
    __slots__ = ("principal", "product", "kind", "start", "end", "page_size", "page_token")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    principal: str
    product: str
    kind: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, principal: _Optional[str] = ..., product: _Optional[str] = ..., kind: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("seq", "time", "kind", "record_json", "hash", "prev_hash")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RECORD_JSON_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: str
    kind: str
    record_json: str
    hash: str
    prev_hash: str
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[str] = ..., kind: _Optional[str] = ..., record_json: _Optional[str] = ..., hash: _Optional[str] = ..., prev_hash: _Optional[str] = ...) -> None: ...

class QueryAuditResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
