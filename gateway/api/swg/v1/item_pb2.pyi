import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from gateway.api.swg.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ItemCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_CATEGORY_UNSPECIFIED: _ClassVar[ItemCategory]
    ITEM_CATEGORY_SALE_OF_GOODS: _ClassVar[ItemCategory]
    ITEM_CATEGORY_RETURNED_GOODS: _ClassVar[ItemCategory]
    ITEM_CATEGORY_GIFT: _ClassVar[ItemCategory]
    ITEM_CATEGORY_COMMERCIAL_SAMPLE: _ClassVar[ItemCategory]
    ITEM_CATEGORY_DOCUMENTS: _ClassVar[ItemCategory]
    ITEM_CATEGORY_MIXED: _ClassVar[ItemCategory]

class ItemDocumentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_DOCUMENT_TYPE_UNSPECIFIED: _ClassVar[ItemDocumentType]
    ITEM_DOCUMENT_TYPE_INVOICE: _ClassVar[ItemDocumentType]
    ITEM_DOCUMENT_TYPE_LICENCE: _ClassVar[ItemDocumentType]
    ITEM_DOCUMENT_TYPE_CERTIFICATE: _ClassVar[ItemDocumentType]
    ITEM_DOCUMENT_TYPE_OTHER: _ClassVar[ItemDocumentType]

class EventScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_SCHEME_UNSPECIFIED: _ClassVar[EventScheme]
    EVENT_SCHEME_IPS_TN: _ClassVar[EventScheme]
    EVENT_SCHEME_EMSEVT: _ClassVar[EventScheme]
ITEM_CATEGORY_UNSPECIFIED: ItemCategory
ITEM_CATEGORY_SALE_OF_GOODS: ItemCategory
ITEM_CATEGORY_RETURNED_GOODS: ItemCategory
ITEM_CATEGORY_GIFT: ItemCategory
ITEM_CATEGORY_COMMERCIAL_SAMPLE: ItemCategory
ITEM_CATEGORY_DOCUMENTS: ItemCategory
ITEM_CATEGORY_MIXED: ItemCategory
ITEM_DOCUMENT_TYPE_UNSPECIFIED: ItemDocumentType
ITEM_DOCUMENT_TYPE_INVOICE: ItemDocumentType
ITEM_DOCUMENT_TYPE_LICENCE: ItemDocumentType
ITEM_DOCUMENT_TYPE_CERTIFICATE: ItemDocumentType
ITEM_DOCUMENT_TYPE_OTHER: ItemDocumentType
EVENT_SCHEME_UNSPECIFIED: EventScheme
EVENT_SCHEME_IPS_TN: EventScheme
EVENT_SCHEME_EMSEVT: EventScheme

class ItemDocument(_message.Message):
    __slots__ = ("document_id", "name", "type")
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    document_id: str
    name: str
    type: ItemDocumentType
    def __init__(self, document_id: _Optional[str] = ..., name: _Optional[str] = ..., type: _Optional[_Union[ItemDocumentType, str]] = ...) -> None: ...

class ContentPiece(_message.Message):
    __slots__ = ("index", "quantity", "description", "hs_code", "net_weight_kg", "value", "origin_country")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HS_CODE_FIELD_NUMBER: _ClassVar[int]
    NET_WEIGHT_KG_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    index: int
    quantity: int
    description: str
    hs_code: str
    net_weight_kg: str
    value: _common_pb2.Money
    origin_country: str
    def __init__(self, index: _Optional[int] = ..., quantity: _Optional[int] = ..., description: _Optional[str] = ..., hs_code: _Optional[str] = ..., net_weight_kg: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., origin_country: _Optional[str] = ...) -> None: ...

class TrackingEvent(_message.Message):
    __slots__ = ("scheme", "code", "occurred_at", "office", "location", "condition_code", "retention_reason", "non_delivery_reason", "non_delivery_measure", "extensions")
    class ExtensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    OFFICE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CONDITION_CODE_FIELD_NUMBER: _ClassVar[int]
    RETENTION_REASON_FIELD_NUMBER: _ClassVar[int]
    NON_DELIVERY_REASON_FIELD_NUMBER: _ClassVar[int]
    NON_DELIVERY_MEASURE_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    scheme: EventScheme
    code: str
    occurred_at: _timestamp_pb2.Timestamp
    office: str
    location: str
    condition_code: str
    retention_reason: str
    non_delivery_reason: str
    non_delivery_measure: str
    extensions: _containers.ScalarMap[str, str]
    def __init__(self, scheme: _Optional[_Union[EventScheme, str]] = ..., code: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., office: _Optional[str] = ..., location: _Optional[str] = ..., condition_code: _Optional[str] = ..., retention_reason: _Optional[str] = ..., non_delivery_reason: _Optional[str] = ..., non_delivery_measure: _Optional[str] = ..., extensions: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PostalItem(_message.Message):
    __slots__ = ("item_id", "local_id", "posted_at", "origin_post", "destination_post", "mail_category", "mail_class", "mail_subclass", "origin_country", "destination_country", "gross_weight_kg", "handling_class", "insured_value", "postage", "category", "transport_date", "transport_mode", "sender", "addressee", "contents", "documents", "receptacle_id", "origin_office", "destination_office", "declared_value", "dutiable_value", "dutiable", "events", "extensions")
    class ExtensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_ID_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_POST_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_POST_FIELD_NUMBER: _ClassVar[int]
    MAIL_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MAIL_CLASS_FIELD_NUMBER: _ClassVar[int]
    MAIL_SUBCLASS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    GROSS_WEIGHT_KG_FIELD_NUMBER: _ClassVar[int]
    HANDLING_CLASS_FIELD_NUMBER: _ClassVar[int]
    INSURED_VALUE_FIELD_NUMBER: _ClassVar[int]
    POSTAGE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_DATE_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_MODE_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    ADDRESSEE_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    RECEPTACLE_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_OFFICE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_OFFICE_FIELD_NUMBER: _ClassVar[int]
    DECLARED_VALUE_FIELD_NUMBER: _ClassVar[int]
    DUTIABLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    DUTIABLE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    local_id: str
    posted_at: _timestamp_pb2.Timestamp
    origin_post: str
    destination_post: str
    mail_category: str
    mail_class: str
    mail_subclass: str
    origin_country: str
    destination_country: str
    gross_weight_kg: str
    handling_class: str
    insured_value: _common_pb2.Money
    postage: _common_pb2.Money
    category: ItemCategory
    transport_date: str
    transport_mode: str
    sender: _common_pb2.Party
    addressee: _common_pb2.Party
    contents: _containers.RepeatedCompositeFieldContainer[ContentPiece]
    documents: _containers.RepeatedCompositeFieldContainer[ItemDocument]
    receptacle_id: str
    origin_office: str
    destination_office: str
    declared_value: _common_pb2.Money
    dutiable_value: _common_pb2.Money
    dutiable: bool
    events: _containers.RepeatedCompositeFieldContainer[TrackingEvent]
    extensions: _containers.ScalarMap[str, str]
    def __init__(self, item_id: _Optional[str] = ..., local_id: _Optional[str] = ..., posted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., origin_post: _Optional[str] = ..., destination_post: _Optional[str] = ..., mail_category: _Optional[str] = ..., mail_class: _Optional[str] = ..., mail_subclass: _Optional[str] = ..., origin_country: _Optional[str] = ..., destination_country: _Optional[str] = ..., gross_weight_kg: _Optional[str] = ..., handling_class: _Optional[str] = ..., insured_value: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., postage: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., category: _Optional[_Union[ItemCategory, str]] = ..., transport_date: _Optional[str] = ..., transport_mode: _Optional[str] = ..., sender: _Optional[_Union[_common_pb2.Party, _Mapping]] = ..., addressee: _Optional[_Union[_common_pb2.Party, _Mapping]] = ..., contents: _Optional[_Iterable[_Union[ContentPiece, _Mapping]]] = ..., documents: _Optional[_Iterable[_Union[ItemDocument, _Mapping]]] = ..., receptacle_id: _Optional[str] = ..., origin_office: _Optional[str] = ..., destination_office: _Optional[str] = ..., declared_value: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., dutiable_value: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., dutiable: _Optional[bool] = ..., events: _Optional[_Iterable[_Union[TrackingEvent, _Mapping]]] = ..., extensions: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ItemBatch(_message.Message):
    __slots__ = ("items", "batch_reference", "extensions")
    class ExtensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    BATCH_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[PostalItem]
    batch_reference: str
    extensions: _containers.ScalarMap[str, str]
    def __init__(self, items: _Optional[_Iterable[_Union[PostalItem, _Mapping]]] = ..., batch_reference: _Optional[str] = ..., extensions: _Optional[_Mapping[str, str]] = ...) -> None: ...
