/* Options:
Date: 2026-11-25 10:00:00
Version: 8.0
Tip: To override a DTO option, remove "//" prefix before updating
BaseUrl: https://voice.example

//GlobalNamespace: Voice.Api
//AddServiceStackTypes: True
IncludeTypes: GetActiveSessions.*
//ExcludeTypes: 
*/

import java.util.*;
import net.servicestack.client.*;

public class dtos
{

    public static class EntityInfo
    {
        /**
        * The ID of the object
        */
        @ApiMember(Description="The ID of the object")
        public String id = null;
        /**
        * The date the object was created
        */
        @ApiMember(Description="The date the object was created")
        public String dateCreated = null;
        /**
        * The date the object was last modified
        */
        @ApiMember(Description="The date the object was last modified")
        public String dateLastModified = null;
        /**
        * The user that created this object
        */
        @ApiMember(Description="The user that created this object")
        public String createdBy = null;
        /**
        * The user that last modified this object
        */
        @ApiMember(Description="The user that last modified this object")
        public String lastModifiedBy = null;
    }

    public static enum SessionDialState
    {
        None,
        Active;
    }

    public static enum SessionCallState
    {
        Disconnected,
        Ringing,
        Connected,
        Hold,
        Passive;
    }

    public static enum SessionQueueStates
    {
        None,
        Queued,
        Ringing,
        Connected,
        Hold,
        Disconnected;
    }

    public static class CustomerBreadcrumb
    {
        public String id = null;
        public String name = null;
    }

    public static enum FlowChannels
    {
        Voice,
        Chat,
        Fax;
    }

    public static enum SessionHoldReasons
    {
        None,
        Transferring;
    }

    public static class SessionLogInfo
    {
        public String date = null;
        public String message = null;
    }

    public static enum SessionMemberCallState
    {
        None,
        Ringing,
        Connected,
        Hold;
    }

    public static enum SessionMemberRoles
    {
        None,
        Caller,
        Agent,
        Transfer;
    }

    public static class SessionMemberInfo
    {
        public String identity = null;
        public String endpointId = null;
        public String displayName = null;
        public Boolean isOriginalMember = null;
        public String avatarUrl = null;
        public HashMap<String,String> applicationData = null;
        public SessionMemberCallState callState = null;
        public SessionMemberRoles role = null;
        public String callSid = null;
        public Boolean muted = null;
    }

    public static enum SessionDirections
    {
        Incoming,
        Outgoing;
    }

    public static class SessionInfo extends EntityInfo
    {
        /**
        * The state of the session
        */
        @ApiMember(Description="The state of the session")
        public SessionDialState dialState = null;
        /**
        * The call state of the session
        */
        @ApiMember(Description="The call state of the session")
        public SessionCallState callState = null;
        /**
        * The queue state of the session
        */
        @ApiMember(Description="The queue state of the session")
        public SessionQueueStates queueState = null;
        /**
        * The ID of the account associated with the flow
        */
        @ApiMember(Description="The ID of the account associated with the flow")
        public String accountId = null;
        /**
        * The name of the account associated with the session
        */
        @ApiMember(Description="The name of the account associated with the session")
        public String accountName = null;
        /**
        * The ID of the customer this session is associated with
        */
        @ApiMember(Description="The ID of the customer this session is associated with")
        public String customerId = null;
        /**
        * The customer breadcrumb this session is associated with
        */
        @ApiMember(Description="The customer breadcrumb this session is associated with")
        public ArrayList<CustomerBreadcrumb> customerBreadcrumb = null;
        /**
        * The name of the customer this session is associated with
        */
        @ApiMember(Description="The name of the customer this session is associated with")
        public String customerName = null;
        /**
        * The ID of the endpoint associated with this session
        */
        @ApiMember(Description="The ID of the endpoint associated with this session")
        public String endpointId = null;
        /**
        * The name of the endpoint associated with this session
        */
        @ApiMember(Description="The name of the endpoint associated with this session")
        public String endpointName = null;
        /**
        * The date the call completed
        */
        @ApiMember(Description="The date the call completed")
        public String dateCompleted = null;
        /**
        * The destination of the session (e.g. what was entered into the Dial box)
        */
        @ApiMember(Description="The destination of the session (e.g. what was entered into the Dial box)")
        public String destination = null;
        /**
        * The to address if any
        */
        @ApiMember(Description="The to address if any")
        public String toAddress = null;
        /**
        * The from address if any
        */
        @ApiMember(Description="The from address if any")
        public String fromAddress = null;
        /**
        * The from name if any
        */
        @ApiMember(Description="The from name if any")
        public String fromName = null;
        /**
        * Answered by name (if any)
        */
        @ApiMember(Description="Answered by name (if any)")
        public String answeredByName = null;
        /**
        * The ID of the queue member assigned to this call
        */
        @ApiMember(Description="The ID of the queue member assigned to this call")
        public String queueMemberId = null;
        /**
        * The flow channel
        */
        @ApiMember(Description="The flow channel")
        public FlowChannels channel = null;
        /**
        * Has the session ended
        */
        @ApiMember(Description="Has the session ended")
        public Boolean ended = null;
        /**
        * The outcome of the call
        */
        @ApiMember(Description="The outcome of the call")
        public String outcome = null;
        /**
        * The twilio Call SID of this session
        */
        @ApiMember(Description="The twilio Call SID of this session")
        public String callSid = null;
        /**
        * Any console data for this session
        */
        @ApiMember(Description="Any console data for this session")
        public String consoleData = null;
        /**
        * The name of the hold queue for this call
        */
        @ApiMember(Description="The name of the hold queue for this call")
        public String holdQueueName = null;
        /**
        * The user ID who put this call on hold
        */
        @ApiMember(Description="The user ID who put this call on hold")
        public String heldByUserId = null;
        /**
        * The reason for the hold
        */
        @ApiMember(Description="The reason for the hold")
        public SessionHoldReasons holdReason = null;
        /**
        * The SID of the conference if in a conference call
        */
        @ApiMember(Description="The SID of the conference if in a conference call")
        public String conferenceSid = null;
        /**
        * The display name for this session
        */
        @ApiMember(Description="The display name for this session")
        public String displayName = null;
        /**
        * The log entries for this session
        */
        @ApiMember(Description="The log entries for this session")
        public ArrayList<SessionLogInfo> log = null;
        /**
        * The members of this session
        */
        @ApiMember(Description="The members of this session")
        public ArrayList<SessionMemberInfo> members = null;
        /**
        * The callback number (typically used for SIP to User calls)
        */
        @ApiMember(Description="The callback number (typically used for SIP to User calls)")
        public String callbackNumber = null;
        /**
        * The ID of the endpoint that answered
        */
        @ApiMember(Description="The ID of the endpoint that answered")
        public String answeredById = null;
        /**
        * Is this session incoming or outgoing?
        */
        @ApiMember(Description="Is this session incoming or outgoing?")
        public SessionDirections direction = null;
        /**
        * The phone number that this session is coming from (used with SMS chats)
        */
        @ApiMember(Description="The phone number that this session is coming from (used with SMS chats)")
        public String fromPhoneNumber = null;
        /**
        * The Call SID of the most recently added conference participant
        */
        @ApiMember(Description="The Call SID of the most recently added conference participant")
        public String mostRecentParticipantCallSid = null;
        /**
        * Was this session missed?
        */
        @ApiMember(Description="Was this session missed?")
        public Boolean wasMissed = null;
        /**
        * The ring queue that the call is currently in
        */
        @ApiMember(Description="The ring queue that the call is currently in")
        public String ringQueueId = null;
    }

    public static class GetActiveSessionsResponse
    {
        public ArrayList<SessionInfo> sessions = null;
    }

    @Route(Path="/sessions/active", Verbs="GET")
    @Api(Description="Get your active sessions. Will eventually replace GetMySessions")
    public static class GetActiveSessions implements IReturn<GetActiveSessionsResponse>, IGet
    {
        private static Object responseType = GetActiveSessionsResponse.class;
        public Object getResponseType() { return responseType; }
    }

}
