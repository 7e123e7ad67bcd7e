from google.protobuf import struct_pb2 as _struct_pb2
from zone._proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListDatasetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DatasetSummary(_message.Message):
    __slots__ = ("name", "description", "provider", "version", "approx_row_count", "row_count_granularity", "open_level")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    APPROX_ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    OPEN_LEVEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    provider: str
    version: str
    approx_row_count: int
    row_count_granularity: int
    open_level: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., provider: _Optional[str] = ..., version: _Optional[str] = ..., approx_row_count: _Optional[int] = ..., row_count_granularity: _Optional[int] = ..., open_level: _Optional[str] = ...) -> None: ...

class OpenData(_message.Message):
    __slots__ = ("open_level", "open_mode", "responsible_provider", "registration_id", "registered_on", "certificate_digest")
    OPEN_LEVEL_FIELD_NUMBER: _ClassVar[int]
    OPEN_MODE_FIELD_NUMBER: _ClassVar[int]
    RESPONSIBLE_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_ON_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    open_level: str
    open_mode: str
    responsible_provider: str
    registration_id: str
    registered_on: str
    certificate_digest: str
    def __init__(self, open_level: _Optional[str] = ..., open_mode: _Optional[str] = ..., responsible_provider: _Optional[str] = ..., registration_id: _Optional[str] = ..., registered_on: _Optional[str] = ..., certificate_digest: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets",)
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[DatasetSummary]
    def __init__(self, datasets: _Optional[_Iterable[_Union[DatasetSummary, _Mapping]]] = ...) -> None: ...

class DescribeDatasetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ColumnInfo(_message.Message):
    __slots__ = ("name", "type", "classification", "description", "bounds", "domain")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BOUNDS_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    classification: _common_pb2.Classification
    description: str
    bounds: _common_pb2.Bounds
    domain: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., classification: _Optional[_Union[_common_pb2.Classification, str]] = ..., description: _Optional[str] = ..., bounds: _Optional[_Union[_common_pb2.Bounds, _Mapping]] = ..., domain: _Optional[_Iterable[str]] = ...) -> None: ...

class DatasetDescription(_message.Message):
    __slots__ = ("summary", "entity_key", "columns", "products", "quality_report_json", "open_data")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    QUALITY_REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    OPEN_DATA_FIELD_NUMBER: _ClassVar[int]
    summary: DatasetSummary
    entity_key: str
    columns: _containers.RepeatedCompositeFieldContainer[ColumnInfo]
    products: _containers.RepeatedScalarFieldContainer[str]
    quality_report_json: str
    open_data: OpenData
    def __init__(self, summary: _Optional[_Union[DatasetSummary, _Mapping]] = ..., entity_key: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[ColumnInfo, _Mapping]]] = ..., products: _Optional[_Iterable[str]] = ..., quality_report_json: _Optional[str] = ..., open_data: _Optional[_Union[OpenData, _Mapping]] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    def __init__(self, dataset: _Optional[str] = ...) -> None: ...

class ProductSummary(_message.Message):
    __slots__ = ("id", "kind", "dataset", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    dataset: str
    description: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., dataset: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products",)
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[ProductSummary]
    def __init__(self, products: _Optional[_Iterable[_Union[ProductSummary, _Mapping]]] = ...) -> None: ...

class DescribeProductRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GrantTerms(_message.Message):
    __slots__ = ("budget", "per_job_epsilon", "calls_per_day", "price", "purpose", "valid_from", "valid_until")
    class BudgetEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.PrivacyBudget
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.PrivacyBudget, _Mapping]] = ...) -> None: ...
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    PER_JOB_EPSILON_FIELD_NUMBER: _ClassVar[int]
    CALLS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    budget: _containers.MessageMap[str, _common_pb2.PrivacyBudget]
    per_job_epsilon: float
    calls_per_day: int
    price: _common_pb2.Price
    purpose: str
    valid_from: str
    valid_until: str
    def __init__(self, budget: _Optional[_Mapping[str, _common_pb2.PrivacyBudget]] = ..., per_job_epsilon: _Optional[float] = ..., calls_per_day: _Optional[int] = ..., price: _Optional[_Union[_common_pb2.Price, _Mapping]] = ..., purpose: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ...) -> None: ...

class ProductDescription(_message.Message):
    __slots__ = ("summary", "columns", "parameters", "grant")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    summary: ProductSummary
    columns: _containers.RepeatedScalarFieldContainer[str]
    parameters: _struct_pb2.Struct
    grant: GrantTerms
    def __init__(self, summary: _Optional[_Union[ProductSummary, _Mapping]] = ..., columns: _Optional[_Iterable[str]] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., grant: _Optional[_Union[GrantTerms, _Mapping]] = ...) -> None: ...
