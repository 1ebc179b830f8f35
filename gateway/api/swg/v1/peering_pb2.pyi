from google.rpc import status_pb2 as _status_pb2
from gateway.api.swg.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RelayOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELAY_OUTCOME_UNSPECIFIED: _ClassVar[RelayOutcome]
    RELAY_OUTCOME_ACCEPTED: _ClassVar[RelayOutcome]
    RELAY_OUTCOME_DUPLICATE: _ClassVar[RelayOutcome]
    RELAY_OUTCOME_REJECTED: _ClassVar[RelayOutcome]
RELAY_OUTCOME_UNSPECIFIED: RelayOutcome
RELAY_OUTCOME_ACCEPTED: RelayOutcome
RELAY_OUTCOME_DUPLICATE: RelayOutcome
RELAY_OUTCOME_REJECTED: RelayOutcome

class RelayRequest(_message.Message):
    __slots__ = ("relay_id", "envelope", "receipt")
    RELAY_ID_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    relay_id: str
    envelope: bytes
    receipt: _envelope_pb2.Receipt
    def __init__(self, relay_id: _Optional[str] = ..., envelope: _Optional[bytes] = ..., receipt: _Optional[_Union[_envelope_pb2.Receipt, _Mapping]] = ...) -> None: ...

class RelayResponse(_message.Message):
    __slots__ = ("relay_id", "message_id", "outcome", "receipts", "error")
    RELAY_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    relay_id: str
    message_id: str
    outcome: RelayOutcome
    receipts: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Receipt]
    error: _status_pb2.Status
    def __init__(self, relay_id: _Optional[str] = ..., message_id: _Optional[str] = ..., outcome: _Optional[_Union[RelayOutcome, str]] = ..., receipts: _Optional[_Iterable[_Union[_envelope_pb2.Receipt, _Mapping]]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...
