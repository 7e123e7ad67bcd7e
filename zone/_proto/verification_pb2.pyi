from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubjectStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBJECT_STATUS_UNSPECIFIED: _ClassVar[SubjectStatus]
    FOUND: _ClassVar[SubjectStatus]
    NOT_FOUND: _ClassVar[SubjectStatus]
    MISSING_DATA: _ClassVar[SubjectStatus]
    UNDISCLOSED: _ClassVar[SubjectStatus]
    CONSENT_REFUSED: _ClassVar[SubjectStatus]
SUBJECT_STATUS_UNSPECIFIED: SubjectStatus
FOUND: SubjectStatus
NOT_FOUND: SubjectStatus
MISSING_DATA: SubjectStatus
UNDISCLOSED: SubjectStatus
CONSENT_REFUSED: SubjectStatus

class KeyChunk(_message.Message):
    __slots__ = ("param_set", "data")
    PARAM_SET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    param_set: str
    data: bytes
    def __init__(self, param_set: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class KeyRef(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class KeyInfo(_message.Message):
    __slots__ = ("key_id", "param_set", "scheme", "size_bytes", "sha256", "created_at", "revoked_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PARAM_SET_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    param_set: str
    scheme: str
    size_bytes: int
    sha256: str
    created_at: str
    revoked_at: str
    def __init__(self, key_id: _Optional[str] = ..., param_set: _Optional[str] = ..., scheme: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., created_at: _Optional[str] = ..., revoked_at: _Optional[str] = ...) -> None: ...

class Ciphertexts(_message.Message):
    __slots__ = ("name", "blocks")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    name: str
    blocks: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, name: _Optional[str] = ..., blocks: _Optional[_Iterable[bytes]] = ...) -> None: ...

class BlindedClaim(_message.Message):
    __slots__ = ("name", "elements")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    elements: bytes
    def __init__(self, name: _Optional[str] = ..., elements: _Optional[bytes] = ...) -> None: ...

class MatchRequest(_message.Message):
    __slots__ = ("product", "purpose", "subjects", "blinded", "consents")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    BLINDED_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    product: str
    purpose: str
    subjects: _containers.RepeatedScalarFieldContainer[str]
    blinded: _containers.RepeatedCompositeFieldContainer[BlindedClaim]
    consents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, product: _Optional[str] = ..., purpose: _Optional[str] = ..., subjects: _Optional[_Iterable[str]] = ..., blinded: _Optional[_Iterable[_Union[BlindedClaim, _Mapping]]] = ..., consents: _Optional[_Iterable[str]] = ...) -> None: ...

class EvaluatedClaim(_message.Message):
    __slots__ = ("name", "tolerance", "evaluations")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    tolerance: int
    evaluations: bytes
    def __init__(self, name: _Optional[str] = ..., tolerance: _Optional[int] = ..., evaluations: _Optional[bytes] = ...) -> None: ...

class MatchReply(_message.Message):
    __slots__ = ("release_id", "status", "dataset_version", "output_digest", "evaluated", "consent_refusals", "membership")
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REFUSALS_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    status: _containers.RepeatedScalarFieldContainer[SubjectStatus]
    dataset_version: str
    output_digest: str
    evaluated: _containers.RepeatedCompositeFieldContainer[EvaluatedClaim]
    consent_refusals: _containers.RepeatedScalarFieldContainer[str]
    membership: str
    def __init__(self, release_id: _Optional[str] = ..., status: _Optional[_Iterable[_Union[SubjectStatus, str]]] = ..., dataset_version: _Optional[str] = ..., output_digest: _Optional[str] = ..., evaluated: _Optional[_Iterable[_Union[EvaluatedClaim, _Mapping]]] = ..., consent_refusals: _Optional[_Iterable[str]] = ..., membership: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("product", "key_id", "purpose", "model_id", "subjects", "features", "consents", "lanes")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    LANES_FIELD_NUMBER: _ClassVar[int]
    product: str
    key_id: str
    purpose: str
    model_id: str
    subjects: _containers.RepeatedScalarFieldContainer[str]
    features: _containers.RepeatedCompositeFieldContainer[Ciphertexts]
    consents: _containers.RepeatedScalarFieldContainer[str]
    lanes: int
    def __init__(self, product: _Optional[str] = ..., key_id: _Optional[str] = ..., purpose: _Optional[str] = ..., model_id: _Optional[str] = ..., subjects: _Optional[_Iterable[str]] = ..., features: _Optional[_Iterable[_Union[Ciphertexts, _Mapping]]] = ..., consents: _Optional[_Iterable[str]] = ..., lanes: _Optional[int] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("release_id", "status", "logits", "slots", "link", "noise_stddev", "model", "dataset_version", "output_digest", "consent_refusals", "lanes")
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LOGITS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    NOISE_STDDEV_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REFUSALS_FIELD_NUMBER: _ClassVar[int]
    LANES_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    status: _containers.RepeatedScalarFieldContainer[SubjectStatus]
    logits: _containers.RepeatedScalarFieldContainer[bytes]
    slots: int
    link: str
    noise_stddev: float
    model: str
    dataset_version: str
    output_digest: str
    consent_refusals: _containers.RepeatedScalarFieldContainer[str]
    lanes: int
    def __init__(self, release_id: _Optional[str] = ..., status: _Optional[_Iterable[_Union[SubjectStatus, str]]] = ..., logits: _Optional[_Iterable[bytes]] = ..., slots: _Optional[int] = ..., link: _Optional[str] = ..., noise_stddev: _Optional[float] = ..., model: _Optional[str] = ..., dataset_version: _Optional[str] = ..., output_digest: _Optional[str] = ..., consent_refusals: _Optional[_Iterable[str]] = ..., lanes: _Optional[int] = ...) -> None: ...
