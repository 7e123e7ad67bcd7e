from zone._proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Measure(_message.Message):
    __slots__ = ("kind", "column", "bins", "quantiles")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Measure.Kind]
        COUNT: _ClassVar[Measure.Kind]
        SUM: _ClassVar[Measure.Kind]
        MEAN: _ClassVar[Measure.Kind]
        HISTOGRAM: _ClassVar[Measure.Kind]
        QUANTILE: _ClassVar[Measure.Kind]
    KIND_UNSPECIFIED: Measure.Kind
    COUNT: Measure.Kind
    SUM: Measure.Kind
    MEAN: Measure.Kind
    HISTOGRAM: Measure.Kind
    QUANTILE: Measure.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    QUANTILES_FIELD_NUMBER: _ClassVar[int]
    kind: Measure.Kind
    column: str
    bins: int
    quantiles: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, kind: _Optional[_Union[Measure.Kind, str]] = ..., column: _Optional[str] = ..., bins: _Optional[int] = ..., quantiles: _Optional[_Iterable[float]] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("string_value", "int_value", "double_value", "bool_value")
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    string_value: str
    int_value: int
    double_value: float
    bool_value: bool
    def __init__(self, string_value: _Optional[str] = ..., int_value: _Optional[int] = ..., double_value: _Optional[float] = ..., bool_value: _Optional[bool] = ...) -> None: ...

class Range(_message.Message):
    __slots__ = ("low", "high")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    low: Value
    high: Value
    def __init__(self, low: _Optional[_Union[Value, _Mapping]] = ..., high: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class ValueList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class Filter(_message.Message):
    __slots__ = ("column", "equals", "range")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    EQUALS_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    IN_FIELD_NUMBER: _ClassVar[int]
    column: str
    equals: Value
    range: Range
    def __init__(self, column: _Optional[str] = ..., equals: _Optional[_Union[Value, _Mapping]] = ..., range: _Optional[_Union[Range, _Mapping]] = ..., **kwargs) -> None: ...

class StatisticsQuery(_message.Message):
    __slots__ = ("product", "measures", "group_by", "filters", "epsilon", "delta")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    MEASURES_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    product: str
    measures: _containers.RepeatedCompositeFieldContainer[Measure]
    group_by: _containers.RepeatedScalarFieldContainer[str]
    filters: _containers.RepeatedCompositeFieldContainer[Filter]
    epsilon: float
    delta: float
    def __init__(self, product: _Optional[str] = ..., measures: _Optional[_Iterable[_Union[Measure, _Mapping]]] = ..., group_by: _Optional[_Iterable[str]] = ..., filters: _Optional[_Iterable[_Union[Filter, _Mapping]]] = ..., epsilon: _Optional[float] = ..., delta: _Optional[float] = ...) -> None: ...

class MeasurePlan(_message.Message):
    __slots__ = ("measure", "mechanisms", "epsilon", "delta", "noise_scales", "sensitivities", "steps", "error_bounds")
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    MECHANISMS_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    NOISE_SCALES_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITIES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ERROR_BOUNDS_FIELD_NUMBER: _ClassVar[int]
    measure: Measure
    mechanisms: _containers.RepeatedScalarFieldContainer[str]
    epsilon: float
    delta: float
    noise_scales: _containers.RepeatedScalarFieldContainer[float]
    sensitivities: _containers.RepeatedScalarFieldContainer[float]
    steps: _containers.RepeatedScalarFieldContainer[float]
    error_bounds: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, measure: _Optional[_Union[Measure, _Mapping]] = ..., mechanisms: _Optional[_Iterable[str]] = ..., epsilon: _Optional[float] = ..., delta: _Optional[float] = ..., noise_scales: _Optional[_Iterable[float]] = ..., sensitivities: _Optional[_Iterable[float]] = ..., steps: _Optional[_Iterable[float]] = ..., error_bounds: _Optional[_Iterable[float]] = ...) -> None: ...

class CostEstimate(_message.Message):
    __slots__ = ("cost", "measures", "remaining", "dataset", "guarantee")
    COST_FIELD_NUMBER: _ClassVar[int]
    MEASURES_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    GUARANTEE_FIELD_NUMBER: _ClassVar[int]
    cost: _common_pb2.PrivacyBudget
    measures: _containers.RepeatedCompositeFieldContainer[MeasurePlan]
    remaining: _common_pb2.PrivacyBudget
    dataset: str
    guarantee: str
    def __init__(self, cost: _Optional[_Union[_common_pb2.PrivacyBudget, _Mapping]] = ..., measures: _Optional[_Iterable[_Union[MeasurePlan, _Mapping]]] = ..., remaining: _Optional[_Union[_common_pb2.PrivacyBudget, _Mapping]] = ..., dataset: _Optional[str] = ..., guarantee: _Optional[str] = ...) -> None: ...

class Cell(_message.Message):
    __slots__ = ("key", "values", "error_bounds", "low_signal", "support")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ERROR_BOUNDS_FIELD_NUMBER: _ClassVar[int]
    LOW_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_FIELD_NUMBER: _ClassVar[int]
    key: _containers.RepeatedScalarFieldContainer[str]
    values: _containers.RepeatedScalarFieldContainer[float]
    error_bounds: _containers.RepeatedScalarFieldContainer[float]
    low_signal: _containers.RepeatedScalarFieldContainer[bool]
    support: int
    def __init__(self, key: _Optional[_Iterable[str]] = ..., values: _Optional[_Iterable[float]] = ..., error_bounds: _Optional[_Iterable[float]] = ..., low_signal: _Optional[_Iterable[bool]] = ..., support: _Optional[int] = ...) -> None: ...

class MeasureResult(_message.Message):
    __slots__ = ("plan", "group_by", "bin_labels", "cells", "error_bound_method")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    BIN_LABELS_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    ERROR_BOUND_METHOD_FIELD_NUMBER: _ClassVar[int]
    plan: MeasurePlan
    group_by: _containers.RepeatedScalarFieldContainer[str]
    bin_labels: _containers.RepeatedScalarFieldContainer[str]
    cells: _containers.RepeatedCompositeFieldContainer[Cell]
    error_bound_method: str
    def __init__(self, plan: _Optional[_Union[MeasurePlan, _Mapping]] = ..., group_by: _Optional[_Iterable[str]] = ..., bin_labels: _Optional[_Iterable[str]] = ..., cells: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ..., error_bound_method: _Optional[str] = ...) -> None: ...

class StatisticsResult(_message.Message):
    __slots__ = ("release_id", "results", "charged", "remaining", "dataset", "dataset_version", "output_digest", "guarantee")
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    GUARANTEE_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    results: _containers.RepeatedCompositeFieldContainer[MeasureResult]
    charged: _common_pb2.PrivacyBudget
    remaining: _common_pb2.PrivacyBudget
    dataset: str
    dataset_version: str
    output_digest: str
    guarantee: str
    def __init__(self, release_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[MeasureResult, _Mapping]]] = ..., charged: _Optional[_Union[_common_pb2.PrivacyBudget, _Mapping]] = ..., remaining: _Optional[_Union[_common_pb2.PrivacyBudget, _Mapping]] = ..., dataset: _Optional[str] = ..., dataset_version: _Optional[str] = ..., output_digest: _Optional[str] = ..., guarantee: _Optional[str] = ...) -> None: ...
