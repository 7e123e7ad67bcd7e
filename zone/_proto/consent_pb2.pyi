import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterConsentRequest(_message.Message):
    __slots__ = ("product", "subject", "purpose", "not_before", "not_after", "max_uses", "letter_sha256")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    LETTER_SHA256_FIELD_NUMBER: _ClassVar[int]
    product: str
    subject: str
    purpose: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    max_uses: int
    letter_sha256: str
    def __init__(self, product: _Optional[str] = ..., subject: _Optional[str] = ..., purpose: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_uses: _Optional[int] = ..., letter_sha256: _Optional[str] = ...) -> None: ...

class RevokeConsentRequest(_message.Message):
    __slots__ = ("consent_id", "reason")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    reason: str
    def __init__(self, consent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ConsentRef(_message.Message):
    __slots__ = ("consent_id",)
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    def __init__(self, consent_id: _Optional[str] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("consent", "source", "principal", "product", "subject", "purpose", "not_before", "not_after", "max_uses", "uses", "letter_sha256", "token_sha256", "revoked_at", "revoke_reason", "created_at")
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    LETTER_SHA256_FIELD_NUMBER: _ClassVar[int]
    TOKEN_SHA256_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    consent: str
    source: str
    principal: str
    product: str
    subject: str
    purpose: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    max_uses: int
    uses: int
    letter_sha256: str
    token_sha256: str
    revoked_at: _timestamp_pb2.Timestamp
    revoke_reason: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, consent: _Optional[str] = ..., source: _Optional[str] = ..., principal: _Optional[str] = ..., product: _Optional[str] = ..., subject: _Optional[str] = ..., purpose: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_uses: _Optional[int] = ..., uses: _Optional[int] = ..., letter_sha256: _Optional[str] = ..., token_sha256: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListConsentsRequest(_message.Message):
    __slots__ = ("product", "subject", "after_consent", "limit")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    AFTER_CONSENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    product: str
    subject: str
    after_consent: str
    limit: int
    def __init__(self, product: _Optional[str] = ..., subject: _Optional[str] = ..., after_consent: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Consents(_message.Message):
    __slots__ = ("consents",)
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    def __init__(self, consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ...) -> None: ...

class ChecksWithoutConsentRequest(_message.Message):
    __slots__ = ("after_use", "limit")
    AFTER_USE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after_use: int
    limit: int
    def __init__(self, after_use: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ConsentUse(_message.Message):
    __slots__ = ("use_id", "request_id", "principal", "product", "mode", "subject", "purpose", "consent", "used_at", "release_id")
    USE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    use_id: int
    request_id: str
    principal: str
    product: str
    mode: str
    subject: str
    purpose: str
    consent: str
    used_at: _timestamp_pb2.Timestamp
    release_id: str
    def __init__(self, use_id: _Optional[int] = ..., request_id: _Optional[str] = ..., principal: _Optional[str] = ..., product: _Optional[str] = ..., mode: _Optional[str] = ..., subject: _Optional[str] = ..., purpose: _Optional[str] = ..., consent: _Optional[str] = ..., used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_id: _Optional[str] = ...) -> None: ...

class ConsentUses(_message.Message):
    __slots__ = ("uses",)
    USES_FIELD_NUMBER: _ClassVar[int]
    uses: _containers.RepeatedCompositeFieldContainer[ConsentUse]
    def __init__(self, uses: _Optional[_Iterable[_Union[ConsentUse, _Mapping]]] = ...) -> None: ...

class RevokeConsentTokenRequest(_message.Message):
    __slots__ = ("consent", "reason")
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    consent: str
    reason: str
    def __init__(self, consent: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ConsentTokenRevocation(_message.Message):
    __slots__ = ("consent", "reason", "revoked_by", "revoked_at")
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVOKED_BY_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    consent: str
    reason: str
    revoked_by: str
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, consent: _Optional[str] = ..., reason: _Optional[str] = ..., revoked_by: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConsentReportRequest(_message.Message):
    __slots__ = ("consent", "limit")
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    consent: str
    limit: int
    def __init__(self, consent: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ConsentReport(_message.Message):
    __slots__ = ("consent", "uses")
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    uses: _containers.RepeatedCompositeFieldContainer[ConsentUse]
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ..., uses: _Optional[_Iterable[_Union[ConsentUse, _Mapping]]] = ...) -> None: ...
