from google.protobuf import struct_pb2 as _struct_pb2
from zone._proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    QUEUED: _ClassVar[JobState]
    RUNNING: _ClassVar[JobState]
    SUCCEEDED: _ClassVar[JobState]
    FAILED: _ClassVar[JobState]
    CANCELLED: _ClassVar[JobState]
JOB_STATE_UNSPECIFIED: JobState
QUEUED: JobState
RUNNING: JobState
SUCCEEDED: JobState
FAILED: JobState
CANCELLED: JobState

class TrainingRequest(_message.Message):
    __slots__ = ("product", "epsilon", "delta", "epochs", "batch_size", "learning_rate", "max_grad_norm", "hidden_width", "features", "keep_in_zone", "seed")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_WIDTH_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    KEEP_IN_ZONE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    product: str
    epsilon: float
    delta: float
    epochs: int
    batch_size: int
    learning_rate: float
    max_grad_norm: float
    hidden_width: int
    features: _containers.RepeatedScalarFieldContainer[str]
    keep_in_zone: bool
    seed: int
    def __init__(self, product: _Optional[str] = ..., epsilon: _Optional[float] = ..., delta: _Optional[float] = ..., epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., learning_rate: _Optional[float] = ..., max_grad_norm: _Optional[float] = ..., hidden_width: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ..., keep_in_zone: _Optional[bool] = ..., seed: _Optional[int] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "product", "principal", "state", "epoch", "epochs", "epsilon_spent", "reserved", "reason", "created_at", "started_at", "finished_at")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    EPSILON_SPENT_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    product: str
    principal: str
    state: JobState
    epoch: int
    epochs: int
    epsilon_spent: float
    reserved: _common_pb2.PrivacyBudget
    reason: str
    created_at: str
    started_at: str
    finished_at: str
    def __init__(self, job_id: _Optional[str] = ..., product: _Optional[str] = ..., principal: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., epoch: _Optional[int] = ..., epochs: _Optional[int] = ..., epsilon_spent: _Optional[float] = ..., reserved: _Optional[_Union[_common_pb2.PrivacyBudget, _Mapping]] = ..., reason: _Optional[str] = ..., created_at: _Optional[str] = ..., started_at: _Optional[str] = ..., finished_at: _Optional[str] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class Layer(_message.Message):
    __slots__ = ("rows", "cols", "weights", "bias")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    rows: int
    cols: int
    weights: _containers.RepeatedScalarFieldContainer[float]
    bias: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, rows: _Optional[int] = ..., cols: _Optional[int] = ..., weights: _Optional[_Iterable[float]] = ..., bias: _Optional[_Iterable[float]] = ...) -> None: ...

class TrainingResult(_message.Message):
    __slots__ = ("job_id", "release_id", "family", "features", "weights", "intercept", "layers", "scaling", "metrics", "metrics_mechanism", "charged", "epsilon_training", "epsilon_metrics", "accountant", "device", "model_id", "output_digest", "guarantee")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    SCALING_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    METRICS_MECHANISM_FIELD_NUMBER: _ClassVar[int]
    CHARGED_FIELD_NUMBER: _ClassVar[int]
    EPSILON_TRAINING_FIELD_NUMBER: _ClassVar[int]
    EPSILON_METRICS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTANT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    GUARANTEE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    release_id: str
    family: str
    features: _containers.RepeatedScalarFieldContainer[str]
    weights: _containers.RepeatedScalarFieldContainer[float]
    intercept: float
    layers: _containers.RepeatedCompositeFieldContainer[Layer]
    scaling: _struct_pb2.Struct
    metrics: _containers.ScalarMap[str, float]
    metrics_mechanism: str
    charged: _common_pb2.PrivacyBudget
    epsilon_training: float
    epsilon_metrics: float
    accountant: str
    device: str
    model_id: str
    output_digest: str
    guarantee: str
    def __init__(self, job_id: _Optional[str] = ..., release_id: _Optional[str] = ..., family: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., weights: _Optional[_Iterable[float]] = ..., intercept: _Optional[float] = ..., layers: _Optional[_Iterable[_Union[Layer, _Mapping]]] = ..., scaling: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., metrics_mechanism: _Optional[str] = ..., charged: _Optional[_Union[_common_pb2.PrivacyBudget, _Mapping]] = ..., epsilon_training: _Optional[float] = ..., epsilon_metrics: _Optional[float] = ..., accountant: _Optional[str] = ..., device: _Optional[str] = ..., model_id: _Optional[str] = ..., output_digest: _Optional[str] = ..., guarantee: _Optional[str] = ...) -> None: ...
