import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from gateway.api.swg.v1 import exchange_pb2 as _exchange_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetDirectoryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDirectoryResponse(_message.Message):
    __slots__ = ("directory", "signature", "version", "issued_at")
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    directory: bytes
    signature: str
    version: int
    issued_at: _timestamp_pb2.Timestamp
    def __init__(self, directory: _Optional[bytes] = ..., signature: _Optional[str] = ..., version: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerifyAuditRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditResponse(_message.Message):
    __slots__ = ("ok", "entries_checked", "checkpoints_checked", "first_bad_sequence", "reason", "head_sha256")
    OK_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HEAD_SHA256_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    entries_checked: int
    checkpoints_checked: int
    first_bad_sequence: int
    reason: str
    head_sha256: bytes
    def __init__(self, ok: _Optional[bool] = ..., entries_checked: _Optional[int] = ..., checkpoints_checked: _Optional[int] = ..., first_bad_sequence: _Optional[int] = ..., reason: _Optional[str] = ..., head_sha256: _Optional[bytes] = ...) -> None: ...

class GetKpisRequest(_message.Message):
    __slots__ = ("to", "partner", "period")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    to: _timestamp_pb2.Timestamp
    partner: str
    period: str
    def __init__(self, to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partner: _Optional[str] = ..., period: _Optional[str] = ..., **kwargs) -> None: ...

class KpiRow(_message.Message):
    __slots__ = ("partner", "period_start", "items_with_aed", "aed_lead_time_p50_s", "pre_loading_share", "decision_time_p50_s", "decision_time_p90_s", "released_share", "held_share", "do_not_load_share", "seized_share", "refused_by_reason", "delivery_latency_p50_s", "delivery_latency_p99_s", "retries", "decisions")
    class RefusedByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    ITEMS_WITH_AED_FIELD_NUMBER: _ClassVar[int]
    AED_LEAD_TIME_P50_S_FIELD_NUMBER: _ClassVar[int]
    PRE_LOADING_SHARE_FIELD_NUMBER: _ClassVar[int]
    DECISION_TIME_P50_S_FIELD_NUMBER: _ClassVar[int]
    DECISION_TIME_P90_S_FIELD_NUMBER: _ClassVar[int]
    RELEASED_SHARE_FIELD_NUMBER: _ClassVar[int]
    HELD_SHARE_FIELD_NUMBER: _ClassVar[int]
    DO_NOT_LOAD_SHARE_FIELD_NUMBER: _ClassVar[int]
    SEIZED_SHARE_FIELD_NUMBER: _ClassVar[int]
    REFUSED_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_LATENCY_P50_S_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_LATENCY_P99_S_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    partner: str
    period_start: _timestamp_pb2.Timestamp
    items_with_aed: int
    aed_lead_time_p50_s: float
    pre_loading_share: float
    decision_time_p50_s: float
    decision_time_p90_s: float
    released_share: float
    held_share: float
    do_not_load_share: float
    seized_share: float
    refused_by_reason: _containers.ScalarMap[str, int]
    delivery_latency_p50_s: float
    delivery_latency_p99_s: float
    retries: int
    decisions: int
    def __init__(self, partner: _Optional[str] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items_with_aed: _Optional[int] = ..., aed_lead_time_p50_s: _Optional[float] = ..., pre_loading_share: _Optional[float] = ..., decision_time_p50_s: _Optional[float] = ..., decision_time_p90_s: _Optional[float] = ..., released_share: _Optional[float] = ..., held_share: _Optional[float] = ..., do_not_load_share: _Optional[float] = ..., seized_share: _Optional[float] = ..., refused_by_reason: _Optional[_Mapping[str, int]] = ..., delivery_latency_p50_s: _Optional[float] = ..., delivery_latency_p99_s: _Optional[float] = ..., retries: _Optional[int] = ..., decisions: _Optional[int] = ...) -> None: ...

class GetKpisResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[KpiRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[KpiRow, _Mapping]]] = ...) -> None: ...

class ListDeliveriesRequest(_message.Message):
    __slots__ = ("states", "recipient", "limit")
    STATES_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[_exchange_pb2.DeliveryState]
    recipient: str
    limit: int
    def __init__(self, states: _Optional[_Iterable[_Union[_exchange_pb2.DeliveryState, str]]] = ..., recipient: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class DeliveryInfo(_message.Message):
    __slots__ = ("message_id", "recipient", "sender", "document_type", "state", "attempts", "last_error", "updated_at", "route")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    recipient: str
    sender: str
    document_type: str
    state: _exchange_pb2.DeliveryState
    attempts: int
    last_error: str
    updated_at: _timestamp_pb2.Timestamp
    route: str
    def __init__(self, message_id: _Optional[str] = ..., recipient: _Optional[str] = ..., sender: _Optional[str] = ..., document_type: _Optional[str] = ..., state: _Optional[_Union[_exchange_pb2.DeliveryState, str]] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., route: _Optional[str] = ...) -> None: ...

class ListDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[DeliveryInfo]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[DeliveryInfo, _Mapping]]] = ...) -> None: ...

class RetryDeliveriesRequest(_message.Message):
    __slots__ = ("message_ids", "recipient", "operator")
    MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    message_ids: _containers.RepeatedScalarFieldContainer[str]
    recipient: str
    operator: str
    def __init__(self, message_ids: _Optional[_Iterable[str]] = ..., recipient: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class RetryDeliveriesResponse(_message.Message):
    __slots__ = ("requeued",)
    REQUEUED_FIELD_NUMBER: _ClassVar[int]
    requeued: int
    def __init__(self, requeued: _Optional[int] = ...) -> None: ...

class ExportEvidenceRequest(_message.Message):
    __slots__ = ("message_id", "operator")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    operator: str
    def __init__(self, message_id: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class ExportEvidenceResponse(_message.Message):
    __slots__ = ("bundle",)
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    bundle: bytes
    def __init__(self, bundle: _Optional[bytes] = ...) -> None: ...

class ListAssistanceCasesRequest(_message.Message):
    __slots__ = ("only_open",)
    ONLY_OPEN_FIELD_NUMBER: _ClassVar[int]
    only_open: bool
    def __init__(self, only_open: _Optional[bool] = ...) -> None: ...

class AssistanceCase(_message.Message):
    __slots__ = ("conversation_id", "request_message_id", "requesting_administration", "requested_administration", "agreement_reference", "requested_at", "deadline", "answered", "overdue", "answer_message_id")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTING_ADMINISTRATION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_ADMINISTRATION_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    request_message_id: str
    requesting_administration: str
    requested_administration: str
    agreement_reference: str
    requested_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    answered: bool
    overdue: bool
    answer_message_id: str
    def __init__(self, conversation_id: _Optional[str] = ..., request_message_id: _Optional[str] = ..., requesting_administration: _Optional[str] = ..., requested_administration: _Optional[str] = ..., agreement_reference: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., answered: _Optional[bool] = ..., overdue: _Optional[bool] = ..., answer_message_id: _Optional[str] = ...) -> None: ...

class ListAssistanceCasesResponse(_message.Message):
    __slots__ = ("cases",)
    CASES_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[AssistanceCase]
    def __init__(self, cases: _Optional[_Iterable[_Union[AssistanceCase, _Mapping]]] = ...) -> None: ...

class GetAuditStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetAuditStatusResponse(_message.Message):
    __slots__ = ("timestamping_enabled", "tsa_url", "waiting", "newest_stamp_time", "newest_stamped_checkpoint", "newest_stamp_age_seconds", "oldest_waiting_seconds", "last_error")
    TIMESTAMPING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TSA_URL_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    NEWEST_STAMP_TIME_FIELD_NUMBER: _ClassVar[int]
    NEWEST_STAMPED_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    NEWEST_STAMP_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_WAITING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    timestamping_enabled: bool
    tsa_url: str
    waiting: int
    newest_stamp_time: _timestamp_pb2.Timestamp
    newest_stamped_checkpoint: int
    newest_stamp_age_seconds: float
    oldest_waiting_seconds: float
    last_error: str
    def __init__(self, timestamping_enabled: _Optional[bool] = ..., tsa_url: _Optional[str] = ..., waiting: _Optional[int] = ..., newest_stamp_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., newest_stamped_checkpoint: _Optional[int] = ..., newest_stamp_age_seconds: _Optional[float] = ..., oldest_waiting_seconds: _Optional[float] = ..., last_error: _Optional[str] = ...) -> None: ...

class GetOverviewRequest(_message.Message):
    __slots__ = ("window_s", "bucket_s")
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    BUCKET_S_FIELD_NUMBER: _ClassVar[int]
    window_s: int
    bucket_s: int
    def __init__(self, window_s: _Optional[int] = ..., bucket_s: _Optional[int] = ...) -> None: ...

class QueueDepth(_message.Message):
    __slots__ = ("recipient", "depth")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    recipient: str
    depth: int
    def __init__(self, recipient: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class PeerState(_message.Message):
    __slots__ = ("node", "address", "queued", "dead", "last_error")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    node: str
    address: str
    queued: int
    dead: int
    last_error: str
    def __init__(self, node: _Optional[str] = ..., address: _Optional[str] = ..., queued: _Optional[int] = ..., dead: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...

class ThroughputBucket(_message.Message):
    __slots__ = ("start", "accepted", "delivered")
    START_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    accepted: int
    delivered: int
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accepted: _Optional[int] = ..., delivered: _Optional[int] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("at", "event", "message_id", "actor", "reason")
    AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    event: str
    message_id: str
    actor: str
    reason: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event: _Optional[str] = ..., message_id: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetOverviewResponse(_message.Message):
    __slots__ = ("node", "directory_version", "directory_issued_at", "participants", "queues", "peers", "deliveries_by_state", "messages", "throughput", "recent_refusals")
    class DeliveriesByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NODE_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_FIELD_NUMBER: _ClassVar[int]
    RECENT_REFUSALS_FIELD_NUMBER: _ClassVar[int]
    node: str
    directory_version: int
    directory_issued_at: _timestamp_pb2.Timestamp
    participants: _containers.RepeatedScalarFieldContainer[str]
    queues: _containers.RepeatedCompositeFieldContainer[QueueDepth]
    peers: _containers.RepeatedCompositeFieldContainer[PeerState]
    deliveries_by_state: _containers.ScalarMap[str, int]
    messages: int
    throughput: _containers.RepeatedCompositeFieldContainer[ThroughputBucket]
    recent_refusals: _containers.RepeatedCompositeFieldContainer[Refusal]
    def __init__(self, node: _Optional[str] = ..., directory_version: _Optional[int] = ..., directory_issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., participants: _Optional[_Iterable[str]] = ..., queues: _Optional[_Iterable[_Union[QueueDepth, _Mapping]]] = ..., peers: _Optional[_Iterable[_Union[PeerState, _Mapping]]] = ..., deliveries_by_state: _Optional[_Mapping[str, int]] = ..., messages: _Optional[int] = ..., throughput: _Optional[_Iterable[_Union[ThroughputBucket, _Mapping]]] = ..., recent_refusals: _Optional[_Iterable[_Union[Refusal, _Mapping]]] = ...) -> None: ...

class SearchMessagesRequest(_message.Message):
    __slots__ = ("item_id", "message_id", "conversation_id", "participant", "document_type", "state", "accepted_from", "accepted_to", "limit", "page_token")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FROM_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_TO_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    message_id: str
    conversation_id: str
    participant: str
    document_type: str
    state: _exchange_pb2.DeliveryState
    accepted_from: _timestamp_pb2.Timestamp
    accepted_to: _timestamp_pb2.Timestamp
    limit: int
    page_token: str
    def __init__(self, item_id: _Optional[str] = ..., message_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., participant: _Optional[str] = ..., document_type: _Optional[str] = ..., state: _Optional[_Union[_exchange_pb2.DeliveryState, str]] = ..., accepted_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accepted_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class MessageSummary(_message.Message):
    __slots__ = ("message_id", "conversation_id", "sender", "document_type", "accepted_at", "recipients", "states", "item_ids")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    conversation_id: str
    sender: str
    document_type: str
    accepted_at: _timestamp_pb2.Timestamp
    recipients: _containers.RepeatedScalarFieldContainer[str]
    states: _containers.RepeatedScalarFieldContainer[_exchange_pb2.DeliveryState]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, message_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., sender: _Optional[str] = ..., document_type: _Optional[str] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recipients: _Optional[_Iterable[str]] = ..., states: _Optional[_Iterable[_Union[_exchange_pb2.DeliveryState, str]]] = ..., item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchMessagesResponse(_message.Message):
    __slots__ = ("messages", "next_page_token")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[MessageSummary]
    next_page_token: str
    def __init__(self, messages: _Optional[_Iterable[_Union[MessageSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetMessageRequest(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class AuditEntryInfo(_message.Message):
    __slots__ = ("sequence", "at", "event", "actor", "subject", "detail")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    at: _timestamp_pb2.Timestamp
    event: str
    actor: str
    subject: str
    detail: str
    def __init__(self, sequence: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event: _Optional[str] = ..., actor: _Optional[str] = ..., subject: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class GetMessageResponse(_message.Message):
    __slots__ = ("status", "item_ids", "audit")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    status: _exchange_pb2.GetStatusResponse
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    audit: _containers.RepeatedCompositeFieldContainer[AuditEntryInfo]
    def __init__(self, status: _Optional[_Union[_exchange_pb2.GetStatusResponse, _Mapping]] = ..., item_ids: _Optional[_Iterable[str]] = ..., audit: _Optional[_Iterable[_Union[AuditEntryInfo, _Mapping]]] = ...) -> None: ...

class TrackNodeItemsRequest(_message.Message):
    __slots__ = ("item_ids",)
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TrackNodeItemsResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_exchange_pb2.ItemTimeline]
    def __init__(self, items: _Optional[_Iterable[_Union[_exchange_pb2.ItemTimeline, _Mapping]]] = ...) -> None: ...
