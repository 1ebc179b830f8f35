import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnvelopeHeader(_message.Message):
    __slots__ = ("message_id", "conversation_id", "in_reply_to", "sender", "recipients", "document_type", "created_at", "expires_at", "source_format", "routing_attributes", "crypto_profile")
    class RoutingAttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    ROUTING_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_PROFILE_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    conversation_id: str
    in_reply_to: str
    sender: str
    recipients: _containers.RepeatedScalarFieldContainer[str]
    document_type: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    source_format: str
    routing_attributes: _containers.ScalarMap[str, str]
    crypto_profile: str
    def __init__(self, message_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., in_reply_to: _Optional[str] = ..., sender: _Optional[str] = ..., recipients: _Optional[_Iterable[str]] = ..., document_type: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_format: _Optional[str] = ..., routing_attributes: _Optional[_Mapping[str, str]] = ..., crypto_profile: _Optional[str] = ...) -> None: ...

class KeyWrap(_message.Message):
    __slots__ = ("recipient", "certificate_sha256", "wrapped_key", "sealed_kek", "pq_key_sha256")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SHA256_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEY_FIELD_NUMBER: _ClassVar[int]
    SEALED_KEK_FIELD_NUMBER: _ClassVar[int]
    PQ_KEY_SHA256_FIELD_NUMBER: _ClassVar[int]
    recipient: str
    certificate_sha256: bytes
    wrapped_key: bytes
    sealed_kek: bytes
    pq_key_sha256: bytes
    def __init__(self, recipient: _Optional[str] = ..., certificate_sha256: _Optional[bytes] = ..., wrapped_key: _Optional[bytes] = ..., sealed_kek: _Optional[bytes] = ..., pq_key_sha256: _Optional[bytes] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("header", "nonce", "ciphertext", "key_wraps", "content_commitment", "signature")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    KEY_WRAPS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    header: bytes
    nonce: bytes
    ciphertext: bytes
    key_wraps: _containers.RepeatedCompositeFieldContainer[KeyWrap]
    content_commitment: bytes
    signature: str
    def __init__(self, header: _Optional[bytes] = ..., nonce: _Optional[bytes] = ..., ciphertext: _Optional[bytes] = ..., key_wraps: _Optional[_Iterable[_Union[KeyWrap, _Mapping]]] = ..., content_commitment: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("message_id", "recipient", "envelope_sha256", "received_at", "issuing_node", "jws")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_SHA256_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    ISSUING_NODE_FIELD_NUMBER: _ClassVar[int]
    JWS_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    recipient: str
    envelope_sha256: bytes
    received_at: _timestamp_pb2.Timestamp
    issuing_node: str
    jws: str
    def __init__(self, message_id: _Optional[str] = ..., recipient: _Optional[str] = ..., envelope_sha256: _Optional[bytes] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., issuing_node: _Optional[str] = ..., jws: _Optional[str] = ...) -> None: ...
