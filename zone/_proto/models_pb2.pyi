from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReviewModelRequest(_message.Message):
    __slots__ = ("model_id", "product")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    product: str
    def __init__(self, model_id: _Optional[str] = ..., product: _Optional[str] = ...) -> None: ...

class FeatureShare(_message.Message):
    __slots__ = ("name", "side", "weight", "share")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    name: str
    side: str
    weight: float
    share: float
    def __init__(self, name: _Optional[str] = ..., side: _Optional[str] = ..., weight: _Optional[float] = ..., share: _Optional[float] = ...) -> None: ...

class ModelDecision(_message.Message):
    __slots__ = ("model_id", "product", "decision", "reason", "reviewer", "review_digest", "decided_at", "dataset_version")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DIGEST_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    product: str
    decision: str
    reason: str
    reviewer: str
    review_digest: str
    decided_at: str
    dataset_version: str
    def __init__(self, model_id: _Optional[str] = ..., product: _Optional[str] = ..., decision: _Optional[str] = ..., reason: _Optional[str] = ..., reviewer: _Optional[str] = ..., review_digest: _Optional[str] = ..., decided_at: _Optional[str] = ..., dataset_version: _Optional[str] = ...) -> None: ...

class ModelReview(_message.Message):
    __slots__ = ("model_id", "owner", "product", "trained_by", "job_id", "link", "intercept", "features", "problems", "training_receipt_json", "decision", "review_digest", "trained_on_version", "serving_version")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    TRAINED_BY_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_RECEIPT_JSON_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TRAINED_ON_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVING_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    owner: str
    product: str
    trained_by: str
    job_id: str
    link: str
    intercept: float
    features: _containers.RepeatedCompositeFieldContainer[FeatureShare]
    problems: _containers.RepeatedScalarFieldContainer[str]
    training_receipt_json: str
    decision: ModelDecision
    review_digest: str
    trained_on_version: str
    serving_version: str
    def __init__(self, model_id: _Optional[str] = ..., owner: _Optional[str] = ..., product: _Optional[str] = ..., trained_by: _Optional[str] = ..., job_id: _Optional[str] = ..., link: _Optional[str] = ..., intercept: _Optional[float] = ..., features: _Optional[_Iterable[_Union[FeatureShare, _Mapping]]] = ..., problems: _Optional[_Iterable[str]] = ..., training_receipt_json: _Optional[str] = ..., decision: _Optional[_Union[ModelDecision, _Mapping]] = ..., review_digest: _Optional[str] = ..., trained_on_version: _Optional[str] = ..., serving_version: _Optional[str] = ...) -> None: ...

class DecideModelRequest(_message.Message):
    __slots__ = ("model_id", "product", "approve", "reason")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    product: str
    approve: bool
    reason: str
    def __init__(self, model_id: _Optional[str] = ..., product: _Optional[str] = ..., approve: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
