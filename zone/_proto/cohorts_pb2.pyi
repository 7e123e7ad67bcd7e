from zone._proto import common_pb2 as _common_pb2
from zone._proto import jobs_pb2 as _jobs_pb2
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

class JointTrainingRequest(_message.Message):
    __slots__ = ("product", "upload_id", "epsilon", "delta", "zone_features", "operator_features", "no_operator_features", "epochs", "batch_size", "learning_rate", "max_grad_norm", "seed", "keep_in_zone", "keep_cohort", "dp_match_count")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    ZONE_FEATURES_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FEATURES_FIELD_NUMBER: _ClassVar[int]
    NO_OPERATOR_FEATURES_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    KEEP_IN_ZONE_FIELD_NUMBER: _ClassVar[int]
    KEEP_COHORT_FIELD_NUMBER: _ClassVar[int]
    DP_MATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    product: str
    upload_id: str
    epsilon: float
    delta: float
    zone_features: _containers.RepeatedScalarFieldContainer[str]
    operator_features: _containers.RepeatedScalarFieldContainer[str]
    no_operator_features: bool
    epochs: int
    batch_size: int
    learning_rate: float
    max_grad_norm: float
    seed: int
    keep_in_zone: bool
    keep_cohort: bool
    dp_match_count: bool
    def __init__(self, product: _Optional[str] = ..., upload_id: _Optional[str] = ..., epsilon: _Optional[float] = ..., delta: _Optional[float] = ..., zone_features: _Optional[_Iterable[str]] = ..., operator_features: _Optional[_Iterable[str]] = ..., no_operator_features: _Optional[bool] = ..., epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., learning_rate: _Optional[float] = ..., max_grad_norm: _Optional[float] = ..., seed: _Optional[int] = ..., keep_in_zone: _Optional[bool] = ..., keep_cohort: _Optional[bool] = ..., dp_match_count: _Optional[bool] = ...) -> None: ...

class JointEstimate(_message.Message):
    __slots__ = ("product", "cohort_rows", "train_rows", "steps", "sample_rate", "charged", "epsilon_dpsgd", "delta_dpsgd", "epsilon_metrics", "accounting", "has_match_count", "dp_matched", "match_epsilon", "match_release_id", "guarantee")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    COHORT_ROWS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHARGED_FIELD_NUMBER: _ClassVar[int]
    EPSILON_DPSGD_FIELD_NUMBER: _ClassVar[int]
    DELTA_DPSGD_FIELD_NUMBER: _ClassVar[int]
    EPSILON_METRICS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTING_FIELD_NUMBER: _ClassVar[int]
    HAS_MATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    DP_MATCHED_FIELD_NUMBER: _ClassVar[int]
    MATCH_EPSILON_FIELD_NUMBER: _ClassVar[int]
    MATCH_RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    GUARANTEE_FIELD_NUMBER: _ClassVar[int]
    product: str
    cohort_rows: int
    train_rows: int
    steps: int
    sample_rate: float
    charged: _common_pb2.PrivacyBudget
    epsilon_dpsgd: float
    delta_dpsgd: float
    epsilon_metrics: float
    accounting: str
    has_match_count: bool
    dp_matched: int
    match_epsilon: float
    match_release_id: str
    guarantee: str
    def __init__(self, product: _Optional[str] = ..., cohort_rows: _Optional[int] = ..., train_rows: _Optional[int] = ..., steps: _Optional[int] = ..., sample_rate: _Optional[float] = ..., charged: _Optional[_Union[_common_pb2.PrivacyBudget, _Mapping]] = ..., epsilon_dpsgd: _Optional[float] = ..., delta_dpsgd: _Optional[float] = ..., epsilon_metrics: _Optional[float] = ..., accounting: _Optional[str] = ..., has_match_count: _Optional[bool] = ..., dp_matched: _Optional[int] = ..., match_epsilon: _Optional[float] = ..., match_release_id: _Optional[str] = ..., guarantee: _Optional[str] = ...) -> None: ...
