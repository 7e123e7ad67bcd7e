from zone._proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CohortLabel(_message.Message):
    __slots__ = ("column", "kind", "classes", "bounds")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    BOUNDS_FIELD_NUMBER: _ClassVar[int]
    column: str
    kind: str
    classes: _containers.RepeatedScalarFieldContainer[str]
    bounds: _common_pb2.Bounds
    def __init__(self, column: _Optional[str] = ..., kind: _Optional[str] = ..., classes: _Optional[_Iterable[str]] = ..., bounds: _Optional[_Union[_common_pb2.Bounds, _Mapping]] = ...) -> None: ...

class CohortFeature(_message.Message):
    __slots__ = ("name", "type", "bounds", "domain")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BOUNDS_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    bounds: _common_pb2.Bounds
    domain: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., bounds: _Optional[_Union[_common_pb2.Bounds, _Mapping]] = ..., domain: _Optional[_Iterable[str]] = ...) -> None: ...

class CohortSchema(_message.Message):
    __slots__ = ("product", "purpose", "key", "label", "features")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    product: str
    purpose: str
    key: str
    label: CohortLabel
    features: _containers.RepeatedCompositeFieldContainer[CohortFeature]
    def __init__(self, product: _Optional[str] = ..., purpose: _Optional[str] = ..., key: _Optional[str] = ..., label: _Optional[_Union[CohortLabel, _Mapping]] = ..., features: _Optional[_Iterable[_Union[CohortFeature, _Mapping]]] = ...) -> None: ...

class CohortEnd(_message.Message):
    __slots__ = ("total_bytes", "sha256")
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    total_bytes: int
    sha256: str
    def __init__(self, total_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class CohortChunk(_message.Message):
    __slots__ = ("schema", "data", "end")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    schema: CohortSchema
    data: bytes
    end: CohortEnd
    def __init__(self, schema: _Optional[_Union[CohortSchema, _Mapping]] = ..., data: _Optional[bytes] = ..., end: _Optional[_Union[CohortEnd, _Mapping]] = ...) -> None: ...

class CohortRef(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class Cohort(_message.Message):
    __slots__ = ("upload_id", "product", "dataset", "digest", "rows", "size_bytes", "state", "created_at", "expires_at", "erased_at", "erasure_id", "erase_trigger", "schema")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ERASED_AT_FIELD_NUMBER: _ClassVar[int]
    ERASURE_ID_FIELD_NUMBER: _ClassVar[int]
    ERASE_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    product: str
    dataset: str
    digest: str
    rows: int
    size_bytes: int
    state: str
    created_at: str
    expires_at: str
    erased_at: str
    erasure_id: str
    erase_trigger: str
    schema: CohortSchema
    def __init__(self, upload_id: _Optional[str] = ..., product: _Optional[str] = ..., dataset: _Optional[str] = ..., digest: _Optional[str] = ..., rows: _Optional[int] = ..., size_bytes: _Optional[int] = ..., state: _Optional[str] = ..., created_at: _Optional[str] = ..., expires_at: _Optional[str] = ..., erased_at: _Optional[str] = ..., erasure_id: _Optional[str] = ..., erase_trigger: _Optional[str] = ..., schema: _Optional[_Union[CohortSchema, _Mapping]] = ...) -> None: ...

class ListCohortsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListCohortsResponse(_message.Message):
    __slots__ = ("cohorts",)
    COHORTS_FIELD_NUMBER: _ClassVar[int]
    cohorts: _containers.RepeatedCompositeFieldContainer[Cohort]
    def __init__(self, cohorts: _Optional[_Iterable[_Union[Cohort, _Mapping]]] = ...) -> None: ...
