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
SUBJECT_STATUS_UNSPECIFIED: SubjectStatus
FOUND: SubjectStatus
NOT_FOUND: SubjectStatus
MISSING_DATA: SubjectStatus

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

class MatchRequest(_message.Message):
    __slots__ = ("product", "key_id", "purpose", "subjects", "claims")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    product: str
    key_id: str
    purpose: str
    subjects: _containers.RepeatedScalarFieldContainer[str]
    claims: _containers.RepeatedCompositeFieldContainer[Ciphertexts]
    def __init__(self, product: _Optional[str] = ..., key_id: _Optional[str] = ..., purpose: _Optional[str] = ..., subjects: _Optional[_Iterable[str]] = ..., claims: _Optional[_Iterable[_Union[Ciphertexts, _Mapping]]] = ...) -> None: ...

class ClaimAnswer(_message.Message):
    __slots__ = ("name", "candidates", "ciphertexts")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    candidates: int
    ciphertexts: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, name: _Optional[str] = ..., candidates: _Optional[int] = ..., ciphertexts: _Optional[_Iterable[bytes]] = ...) -> None: ...

class MatchReply(_message.Message):
    __slots__ = ("release_id", "status", "claims", "slots", "dataset_version", "output_digest")
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    status: _containers.RepeatedScalarFieldContainer[SubjectStatus]
    claims: _containers.RepeatedCompositeFieldContainer[ClaimAnswer]
    slots: int
    dataset_version: str
    output_digest: str
    def __init__(self, release_id: _Optional[str] = ..., status: _Optional[_Iterable[_Union[SubjectStatus, str]]] = ..., claims: _Optional[_Iterable[_Union[ClaimAnswer, _Mapping]]] = ..., slots: _Optional[int] = ..., dataset_version: _Optional[str] = ..., output_digest: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("product", "key_id", "purpose", "model_id", "subjects", "features")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    product: str
    key_id: str
    purpose: str
    model_id: str
    subjects: _containers.RepeatedScalarFieldContainer[str]
    features: _containers.RepeatedCompositeFieldContainer[Ciphertexts]
    def __init__(self, product: _Optional[str] = ..., key_id: _Optional[str] = ..., purpose: _Optional[str] = ..., model_id: _Optional[str] = ..., subjects: _Optional[_Iterable[str]] = ..., features: _Optional[_Iterable[_Union[Ciphertexts, _Mapping]]] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("release_id", "status", "logits", "slots", "link", "noise_stddev", "model", "dataset_version", "output_digest")
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LOGITS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    NOISE_STDDEV_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    status: _containers.RepeatedScalarFieldContainer[SubjectStatus]
    logits: _containers.RepeatedScalarFieldContainer[bytes]
    slots: int
    link: str
    noise_stddev: float
    model: str
    dataset_version: str
    output_digest: str
    def __init__(self, release_id: _Optional[str] = ..., status: _Optional[_Iterable[_Union[SubjectStatus, str]]] = ..., logits: _Optional[_Iterable[bytes]] = ..., slots: _Optional[int] = ..., link: _Optional[str] = ..., noise_stddev: _Optional[float] = ..., model: _Optional[str] = ..., dataset_version: _Optional[str] = ..., output_digest: _Optional[str] = ...) -> None: ...
