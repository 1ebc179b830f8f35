import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from gateway.api.swg.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliveryState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATE_UNSPECIFIED: _ClassVar[DeliveryState]
    DELIVERY_STATE_QUEUED: _ClassVar[DeliveryState]
    DELIVERY_STATE_IN_FLIGHT: _ClassVar[DeliveryState]
    DELIVERY_STATE_DELIVERED: _ClassVar[DeliveryState]
    DELIVERY_STATE_ACKNOWLEDGED: _ClassVar[DeliveryState]
    DELIVERY_STATE_FAILED: _ClassVar[DeliveryState]
    DELIVERY_STATE_EXPIRED: _ClassVar[DeliveryState]

class ItemEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_EVENT_KIND_UNSPECIFIED: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_AED_ACCEPTED: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_CUSTOMS_DECISION: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_REVENUE_NOTICE: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_ASSISTANCE_REQUEST: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_MESSAGE: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_DELIVERED: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_ACKNOWLEDGED: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_ARRIVED: _ClassVar[ItemEventKind]
    ITEM_EVENT_KIND_DEPARTED: _ClassVar[ItemEventKind]
DELIVERY_STATE_UNSPECIFIED: DeliveryState
DELIVERY_STATE_QUEUED: DeliveryState
DELIVERY_STATE_IN_FLIGHT: DeliveryState
DELIVERY_STATE_DELIVERED: DeliveryState
DELIVERY_STATE_ACKNOWLEDGED: DeliveryState
DELIVERY_STATE_FAILED: DeliveryState
DELIVERY_STATE_EXPIRED: DeliveryState
ITEM_EVENT_KIND_UNSPECIFIED: ItemEventKind
ITEM_EVENT_KIND_AED_ACCEPTED: ItemEventKind
ITEM_EVENT_KIND_CUSTOMS_DECISION: ItemEventKind
ITEM_EVENT_KIND_REVENUE_NOTICE: ItemEventKind
ITEM_EVENT_KIND_ASSISTANCE_REQUEST: ItemEventKind
ITEM_EVENT_KIND_MESSAGE: ItemEventKind
ITEM_EVENT_KIND_DELIVERED: ItemEventKind
ITEM_EVENT_KIND_ACKNOWLEDGED: ItemEventKind
ITEM_EVENT_KIND_ARRIVED: ItemEventKind
ITEM_EVENT_KIND_DEPARTED: ItemEventKind

class SubmitRequest(_message.Message):
    __slots__ = ("message_id", "format", "content", "recipients", "conversation_id", "in_reply_to", "expires_at", "all_or_nothing")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ALL_OR_NOTHING_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    format: str
    content: bytes
    recipients: _containers.RepeatedScalarFieldContainer[str]
    conversation_id: str
    in_reply_to: str
    expires_at: _timestamp_pb2.Timestamp
    all_or_nothing: bool
    def __init__(self, message_id: _Optional[str] = ..., format: _Optional[str] = ..., content: _Optional[bytes] = ..., recipients: _Optional[_Iterable[str]] = ..., conversation_id: _Optional[str] = ..., in_reply_to: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., all_or_nothing: _Optional[bool] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("message_id", "conversation_id", "duplicate", "document_type", "recipients", "accepted_at", "error", "warnings", "items")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    conversation_id: str
    duplicate: bool
    document_type: str
    recipients: _containers.RepeatedScalarFieldContainer[str]
    accepted_at: _timestamp_pb2.Timestamp
    error: _status_pb2.Status
    warnings: _containers.RepeatedCompositeFieldContainer[FieldWarning]
    items: _containers.RepeatedCompositeFieldContainer[ItemOutcome]
    def __init__(self, message_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., duplicate: _Optional[bool] = ..., document_type: _Optional[str] = ..., recipients: _Optional[_Iterable[str]] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[FieldWarning, _Mapping]]] = ..., items: _Optional[_Iterable[_Union[ItemOutcome, _Mapping]]] = ...) -> None: ...

class ItemOutcome(_message.Message):
    __slots__ = ("index", "item_id", "path", "accepted", "message_id", "violations", "warnings", "recipients")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    index: int
    item_id: str
    path: str
    accepted: bool
    message_id: str
    violations: _containers.RepeatedCompositeFieldContainer[FieldWarning]
    warnings: _containers.RepeatedCompositeFieldContainer[FieldWarning]
    recipients: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, index: _Optional[int] = ..., item_id: _Optional[str] = ..., path: _Optional[str] = ..., accepted: _Optional[bool] = ..., message_id: _Optional[str] = ..., violations: _Optional[_Iterable[_Union[FieldWarning, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[FieldWarning, _Mapping]]] = ..., recipients: _Optional[_Iterable[str]] = ...) -> None: ...

class FieldWarning(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ReceiveRequest(_message.Message):
    __slots__ = ("format", "document_types", "include_envelope", "max_in_flight")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    MAX_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    format: str
    document_types: _containers.RepeatedScalarFieldContainer[str]
    include_envelope: bool
    max_in_flight: int
    def __init__(self, format: _Optional[str] = ..., document_types: _Optional[_Iterable[str]] = ..., include_envelope: _Optional[bool] = ..., max_in_flight: _Optional[int] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("message_id", "conversation_id", "in_reply_to", "sender", "document_type", "format", "content", "created_at", "expires_at", "attempt", "envelope_sha256", "envelope")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_SHA256_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    conversation_id: str
    in_reply_to: str
    sender: str
    document_type: str
    format: str
    content: bytes
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    attempt: int
    envelope_sha256: bytes
    envelope: bytes
    def __init__(self, message_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., in_reply_to: _Optional[str] = ..., sender: _Optional[str] = ..., document_type: _Optional[str] = ..., format: _Optional[str] = ..., content: _Optional[bytes] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt: _Optional[int] = ..., envelope_sha256: _Optional[bytes] = ..., envelope: _Optional[bytes] = ...) -> None: ...

class AcknowledgeRequest(_message.Message):
    __slots__ = ("message_ids",)
    MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    message_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, message_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AcknowledgeResponse(_message.Message):
    __slots__ = ("receipts",)
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Receipt]
    def __init__(self, receipts: _Optional[_Iterable[_Union[_envelope_pb2.Receipt, _Mapping]]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class RecipientStatus(_message.Message):
    __slots__ = ("recipient", "state", "attempts", "last_error", "updated_at", "receipts", "next_attempt_at")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    recipient: str
    state: DeliveryState
    attempts: int
    last_error: str
    updated_at: _timestamp_pb2.Timestamp
    receipts: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Receipt]
    next_attempt_at: _timestamp_pb2.Timestamp
    def __init__(self, recipient: _Optional[str] = ..., state: _Optional[_Union[DeliveryState, str]] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receipts: _Optional[_Iterable[_Union[_envelope_pb2.Receipt, _Mapping]]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("message_id", "conversation_id", "sender", "document_type", "created_at", "expires_at", "recipients", "envelope_sha256")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_SHA256_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    conversation_id: str
    sender: str
    document_type: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    recipients: _containers.RepeatedCompositeFieldContainer[RecipientStatus]
    envelope_sha256: bytes
    def __init__(self, message_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., sender: _Optional[str] = ..., document_type: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recipients: _Optional[_Iterable[_Union[RecipientStatus, _Mapping]]] = ..., envelope_sha256: _Optional[bytes] = ...) -> None: ...

class TrackItemsRequest(_message.Message):
    __slots__ = ("item_ids",)
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ItemEvent(_message.Message):
    __slots__ = ("at", "kind", "message_id", "document_type", "sender", "recipients", "outcome")
    AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    kind: ItemEventKind
    message_id: str
    document_type: str
    sender: str
    recipients: _containers.RepeatedScalarFieldContainer[str]
    outcome: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[ItemEventKind, str]] = ..., message_id: _Optional[str] = ..., document_type: _Optional[str] = ..., sender: _Optional[str] = ..., recipients: _Optional[_Iterable[str]] = ..., outcome: _Optional[str] = ...) -> None: ...

class ItemTimeline(_message.Message):
    __slots__ = ("item_id", "error", "events")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    error: _status_pb2.Status
    events: _containers.RepeatedCompositeFieldContainer[ItemEvent]
    def __init__(self, item_id: _Optional[str] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., events: _Optional[_Iterable[_Union[ItemEvent, _Mapping]]] = ...) -> None: ...

class TrackItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ItemTimeline]
    def __init__(self, items: _Optional[_Iterable[_Union[ItemTimeline, _Mapping]]] = ...) -> None: ...
