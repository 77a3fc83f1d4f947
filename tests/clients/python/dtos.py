"""Request DTOs for the client tests, in the shape ServiceStack's Python
generator emits (dataclass_json, camelCase, IReturn/IGet markers)."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from dataclasses_json import LetterCase, Undefined, dataclass_json
from servicestack import IGet, IReturn


@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)
@dataclass
class SessionMemberInfo:
    identity: Optional[str] = None
    endpoint_id: Optional[str] = None
    display_name: Optional[str] = None
    is_original_member: bool = False
    call_sid: Optional[str] = None
    muted: bool = False


@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)
@dataclass
class SessionInfo:
    id: Optional[str] = None
    call_state: Optional[str] = None
    account_name: Optional[str] = None
    ended: bool = False
    members: List[SessionMemberInfo] = field(default_factory=list)


@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)
@dataclass
class GetActiveSessionsResponse:
    sessions: List[SessionInfo] = field(default_factory=list)


# @Route("/sessions/active", "GET")
@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)
@dataclass
class GetActiveSessions(IReturn[GetActiveSessionsResponse], IGet):
    pass
