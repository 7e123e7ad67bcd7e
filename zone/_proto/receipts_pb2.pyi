from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetReceiptRequest(_message.Message):
    __slots__ = ("release_id",)
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    def __init__(self, release_id: _Optional[str] = ...) -> None: ...

class ChainEntry(_message.Message):
    __slots__ = ("seq", "ts", "kind", "record_json", "prev_hash", "hash")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RECORD_JSON_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts: str
    kind: str
    record_json: str
    prev_hash: str
    hash: str
    def __init__(self, seq: _Optional[int] = ..., ts: _Optional[str] = ..., kind: _Optional[str] = ..., record_json: _Optional[str] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("leaf_index", "tree_size", "path")
    LEAF_INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    leaf_index: int
    tree_size: int
    path: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, leaf_index: _Optional[int] = ..., tree_size: _Optional[int] = ..., path: _Optional[_Iterable[str]] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("release_id", "receipt_json", "entry", "proven", "proof", "checkpoint_json")
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_JSON_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    PROVEN_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_JSON_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    receipt_json: str
    entry: ChainEntry
    proven: bool
    proof: InclusionProof
    checkpoint_json: str
    def __init__(self, release_id: _Optional[str] = ..., receipt_json: _Optional[str] = ..., entry: _Optional[_Union[ChainEntry, _Mapping]] = ..., proven: _Optional[bool] = ..., proof: _Optional[_Union[InclusionProof, _Mapping]] = ..., checkpoint_json: _Optional[str] = ...) -> None: ...
