import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from gateway.api.swg.v1 import common_pb2 as _common_pb2
from gateway.api.swg.v1 import inspection_pb2 as _inspection_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CollectionModel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLLECTION_MODEL_UNSPECIFIED: _ClassVar[CollectionModel]
    COLLECTION_MODEL_VENDOR: _ClassVar[CollectionModel]
    COLLECTION_MODEL_INTERMEDIARY: _ClassVar[CollectionModel]
    COLLECTION_MODEL_BUYER: _ClassVar[CollectionModel]
    COLLECTION_MODEL_HYBRID: _ClassVar[CollectionModel]
COLLECTION_MODEL_UNSPECIFIED: CollectionModel
COLLECTION_MODEL_VENDOR: CollectionModel
COLLECTION_MODEL_INTERMEDIARY: CollectionModel
COLLECTION_MODEL_BUYER: CollectionModel
COLLECTION_MODEL_HYBRID: CollectionModel

class RevenueNotice(_message.Message):
    __slots__ = ("item_id", "destination_country", "collection_model", "ioss_number", "declared_value", "taxes", "total_due", "duty_de_minimis_applied", "duty_de_minimis_threshold", "assessed_by", "inspection_message_id", "outcome", "assessed_at", "vat_de_minimis_applied", "vat_de_minimis_threshold", "duty_rule", "duty_rule_effective_from", "tariff_subheadings")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_MODEL_FIELD_NUMBER: _ClassVar[int]
    IOSS_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DECLARED_VALUE_FIELD_NUMBER: _ClassVar[int]
    TAXES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DUE_FIELD_NUMBER: _ClassVar[int]
    DUTY_DE_MINIMIS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    DUTY_DE_MINIMIS_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ASSESSED_BY_FIELD_NUMBER: _ClassVar[int]
    INSPECTION_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ASSESSED_AT_FIELD_NUMBER: _ClassVar[int]
    VAT_DE_MINIMIS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    VAT_DE_MINIMIS_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DUTY_RULE_FIELD_NUMBER: _ClassVar[int]
    DUTY_RULE_EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    TARIFF_SUBHEADINGS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    destination_country: str
    collection_model: CollectionModel
    ioss_number: str
    declared_value: _common_pb2.Money
    taxes: _containers.RepeatedCompositeFieldContainer[_inspection_pb2.Tax]
    total_due: _common_pb2.Money
    duty_de_minimis_applied: bool
    duty_de_minimis_threshold: _common_pb2.Money
    assessed_by: str
    inspection_message_id: str
    outcome: _inspection_pb2.InspectionOutcome
    assessed_at: _timestamp_pb2.Timestamp
    vat_de_minimis_applied: bool
    vat_de_minimis_threshold: _common_pb2.Money
    duty_rule: str
    duty_rule_effective_from: str
    tariff_subheadings: int
    def __init__(self, item_id: _Optional[str] = ..., destination_country: _Optional[str] = ..., collection_model: _Optional[_Union[CollectionModel, str]] = ..., ioss_number: _Optional[str] = ..., declared_value: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., taxes: _Optional[_Iterable[_Union[_inspection_pb2.Tax, _Mapping]]] = ..., total_due: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., duty_de_minimis_applied: _Optional[bool] = ..., duty_de_minimis_threshold: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., assessed_by: _Optional[str] = ..., inspection_message_id: _Optional[str] = ..., outcome: _Optional[_Union[_inspection_pb2.InspectionOutcome, str]] = ..., assessed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vat_de_minimis_applied: _Optional[bool] = ..., vat_de_minimis_threshold: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., duty_rule: _Optional[str] = ..., duty_rule_effective_from: _Optional[str] = ..., tariff_subheadings: _Optional[int] = ...) -> None: ...

class RevenueNoticeBatch(_message.Message):
    __slots__ = ("notices",)
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    notices: _containers.RepeatedCompositeFieldContainer[RevenueNotice]
    def __init__(self, notices: _Optional[_Iterable[_Union[RevenueNotice, _Mapping]]] = ...) -> None: ...
