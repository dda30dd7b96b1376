// The interop scenario (tests/interop/scenario.py) through JAX-WS stubs that wsimport generated
// from the served WSDL: its inputs come from the environment, what it saw goes to stdout as
// key=value lines. The UsernameToken (PasswordText) header is added by a SOAP handler: the JAX-WS
// reference implementation has no WS-Security of its own (Metro's WSIT would).
import java.net.URL;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import javax.xml.datatype.DatatypeFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.namespace.QName;
import javax.xml.soap.SOAPElement;
import javax.xml.soap.SOAPEnvelope;
import javax.xml.soap.SOAPHeader;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.handler.Handler;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.handler.soap.SOAPHandler;
import javax.xml.ws.handler.soap.SOAPMessageContext;

import lt.mokiniu_registras.nvs_gateway.v1.*;

public class Scenario {
    static final String WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    static final String PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
    static final String NVS = "urn:lt:mokiniu-registras:nvs-gateway:v1";
    static final Map<String, String> seen = new LinkedHashMap<>();

    /** Adds a wsse:Security header with a UsernameToken to every request, and the nvs:requestId header
     *  (contract 1.6) while {@code requestId} is set. */
    static final class UsernameToken implements SOAPHandler<SOAPMessageContext> {
        private final String username;
        private final String password;
        static volatile String requestId;

        UsernameToken(String username, String password) {
            this.username = username;
            this.password = password;
        }

        @Override
        public boolean handleMessage(SOAPMessageContext context) {
            if (!Boolean.TRUE.equals(context.get(MessageContext.MESSAGE_OUTBOUND_PROPERTY))) {
                return true;
            }
            try {
                SOAPEnvelope envelope = context.getMessage().getSOAPPart().getEnvelope();
                SOAPHeader header = envelope.getHeader() != null ? envelope.getHeader() : envelope.addHeader();
                SOAPElement token = header.addChildElement("Security", "wsse", WSSE).addChildElement("UsernameToken", "wsse");
                token.addChildElement("Username", "wsse").addTextNode(username);
                SOAPElement secret = token.addChildElement("Password", "wsse");
                secret.setAttribute("Type", PASSWORD_TEXT);
                secret.addTextNode(password);
                if (requestId != null) {
                    header.addChildElement("requestId", "nvs", NVS).addTextNode(requestId);
                }
                return true;
            } catch (Exception e) {
                throw new RuntimeException("could not add the Security header", e);
            }
        }

        @Override
        public boolean handleFault(SOAPMessageContext context) {
            return true;
        }

        @Override
        public void close(MessageContext context) {
        }

        @Override
        public Set<QName> getHeaders() {
            return Set.of();
        }
    }

    static String env(String name) {
        String value = System.getenv(name);
        if (value == null) {
            throw new IllegalStateException(name + " is not set");
        }
        return value;
    }

    static XMLGregorianCalendar date(String value) throws Exception {
        return DatatypeFactory.newInstance().newXMLGregorianCalendar(value);
    }

    static String text(XMLGregorianCalendar value) {
        return value == null ? "" : value.toXMLFormat();
    }

    static Contract contract(String number) throws Exception {
        Contract contract = new Contract();
        contract.setTypeCode(env("NVS_CONTRACT_TYPE"));
        contract.setDate(date(env("NVS_CONTRACT_DATE")));
        contract.setNumber(number);
        return contract;
    }

    static RegisterStudent registration(String child, long groupId, String contractNumber) throws Exception {
        RegisterStudent request = new RegisterStudent();
        request.setPersonalCode(child);
        request.setGroupId(groupId);
        request.setFirstLearningDate(date(env("NVS_FIRST_LEARNING_DATE")));
        request.setContract(contract(contractNumber));
        return request;
    }

    /** One record of RegisterStudents (contract 1.9): the fields of RegisterStudent, in a type of its own. */
    static StudentRegistrationRecord record(String child, long groupId, String contractNumber) throws Exception {
        StudentRegistrationRecord record = new StudentRegistrationRecord();
        record.setPersonalCode(child);
        record.setGroupId(groupId);
        record.setFirstLearningDate(date(env("NVS_FIRST_LEARNING_DATE")));
        record.setContract(contract(contractNumber));
        return record;
    }

    /** Expects the call to fail with our GatewayFault; records its code and field. */
    static void fault(String key, Callable<?> call) throws Exception {
        try {
            call.call();
            seen.put(key + ".code", "(no fault)");
        } catch (GatewayFault fault) {
            seen.put(key + ".code", fault.getFaultInfo().getCode());
            seen.put(key + ".field", fault.getFaultInfo().getField() == null ? "" : fault.getFaultInfo().getField());
        }
    }

    public static void main(String[] args) throws Exception {
        NvsRegistryPortType registry = new NvsRegistryService(new URL(env("NVS_WSDL"))).getNvsRegistryPort();
        List<Handler> chain = new ArrayList<>();
        chain.add(new UsernameToken(env("NVS_USERNAME"), env("NVS_PASSWORD")));
        ((BindingProvider) registry).getBinding().setHandlerChain(chain);
        String child = env("NVS_CHILD");

        LookupPerson lookup = new LookupPerson();
        lookup.setPersonalCode(child);
        Person person = registry.lookupPerson(lookup).getPerson();
        seen.put("lookup.personalCode", person.getPersonalCode());
        seen.put("lookup.birthDate", text(person.getBirthDate()));

        CreateGroup create = new CreateGroup();
        create.setSchoolYear(env("NVS_SCHOOL_YEAR"));
        create.setProgramCode(env("NVS_PROGRAM"));
        create.setName(env("NVS_GROUP_NAME"));
        create.getSubDirectionCode().add(env("NVS_SUB_DIRECTION"));
        Leader leader = new Leader();
        leader.setFirstName(env("NVS_LEADER_FIRST_NAME"));
        leader.setLastName(env("NVS_LEADER_LAST_NAME"));
        create.getLeader().add(leader);
        Group group = registry.createGroup(create).getGroup();
        seen.put("group.name", group.getName());
        seen.put("group.purpose", group.getPurpose().value());

        // With a request id, and again with the same one (a retry after a lost answer): the same registration.
        UsernameToken.requestId = env("NVS_REQUEST_ID");
        Registration registered = registry.registerStudent(registration(child, group.getGroupId(), env("NVS_CONTRACT_NUMBER"))).getRegistration();
        Registration retried = registry.registerStudent(registration(child, group.getGroupId(), env("NVS_CONTRACT_NUMBER"))).getRegistration();
        UsernameToken.requestId = null;
        seen.put("retried.sameRegistration",
            String.valueOf(String.valueOf(retried.getRegistrationId()).equals(String.valueOf(registered.getRegistrationId()))));
        seen.put("registered.status", registered.getStatus().value());
        seen.put("registered.firstLearningDate", text(registered.getFirstLearningDate()));

        CorrectRegistration correct = new CorrectRegistration();
        correct.setRegistrationId(registered.getRegistrationId());
        correct.setFirstLearningDate(date(env("NVS_CORRECTED_DATE")));
        seen.put("corrected.firstLearningDate", text(registry.correctRegistration(correct).getRegistration().getFirstLearningDate()));

        MarkFunding mark = new MarkFunding();
        mark.setRegistrationId(registered.getRegistrationId());
        mark.getFundingTypeCode().add(env("NVS_FUNDING_TYPE"));
        mark.setFromMonth(env("NVS_FUNDING_MONTH"));
        mark.setToMonth(env("NVS_FUNDING_MONTH"));
        FundingMark marked = registry.markFunding(mark).getMark().get(0);
        seen.put("funding.fundingTypeCode", marked.getFundingTypeCode());
        seen.put("funding.months", marked.getFromMonth() + ".." + marked.getToMonth());

        DeregisterStudent deregister = new DeregisterStudent();
        deregister.setRegistrationId(registered.getRegistrationId());
        deregister.setDepartureDate(date(env("NVS_DEPARTURE_DATE")));
        deregister.setDepartureReasonCode(env("NVS_DEPARTURE_REASON"));
        deregister.setOrderNumber(env("NVS_ORDER_NUMBER"));
        Registration departed = registry.deregisterStudent(deregister).getRegistration();
        seen.put("deregistered.status", departed.getStatus().value());
        seen.put("deregistered.departureDate", text(departed.getDeparture().getDate()));

        Registration mistaken = registry.registerStudent(registration(env("NVS_MISTAKEN_CHILD"), group.getGroupId(), env("NVS_CONTRACT_NUMBER"))).getRegistration();
        CancelRegistration cancel = new CancelRegistration();
        cancel.setRegistrationId(mistaken.getRegistrationId());
        cancel.setReason(env("NVS_CANCEL_REASON"));
        Registration cancelled = registry.cancelRegistration(cancel).getRegistration();
        seen.put("cancelled.status", cancelled.getStatus().value());
        seen.put("cancelled.reason", cancelled.getCancellationReason());

        GetStudent student = new GetStudent();
        student.setPersonalCode(child);
        List<Registration> registrations = registry.getStudent(student).getRegistration();
        seen.put("student.registrations", String.valueOf(registrations.size()));
        seen.put("student.status", registrations.get(0).getStatus().value());

        ListGroups list = new ListGroups();
        list.setSchoolYear(env("NVS_SCHOOL_YEAR"));
        for (GroupSection section : registry.listGroups(list).getSection()) {
            for (Group listed : section.getGroup()) {
                if (listed.getGroupId() == group.getGroupId()) {
                    seen.put("listed.section", section.getPurpose().value());
                    seen.put("listed.activeLearners", String.valueOf(listed.getActiveLearners()));
                }
            }
        }

        fault("fault.schema", () -> registry.registerStudent(registration(child, group.getGroupId(), env("NVS_TOO_LONG_CONTRACT_NUMBER"))));
        fault("fault.domain", () -> registry.registerStudent(registration(child, Long.parseLong(env("NVS_MISSING_GROUP")), env("NVS_CONTRACT_NUMBER"))));

        // A batch with a request id of its own: a new child into the group, and the missing group; then its retry.
        RegisterStudents batch = new RegisterStudents();
        batch.getRecord().add(record(env("NVS_BATCH_CHILD"), group.getGroupId(), env("NVS_BATCH_CONTRACT_NUMBER")));
        batch.getRecord().add(record(child, Long.parseLong(env("NVS_MISSING_GROUP")), env("NVS_BATCH_CONTRACT_NUMBER")));
        UsernameToken.requestId = env("NVS_BATCH_REQUEST_ID");
        for (String key : List.of("batch", "batch.replayed")) {
            RegisterStudentsResponse answer = registry.registerStudents(batch);
            List<String> indexes = new ArrayList<>();
            List<String> outcomes = new ArrayList<>();
            for (RegistrationResult result : answer.getResult()) {
                indexes.add(String.valueOf(result.getIndex()));
                outcomes.add(result.getOutcome().value());
                if (result.getOutcome() == RecordOutcome.STORED) {
                    seen.put(key + ".registrationId", String.valueOf(result.getRegistration().getRegistrationId()));
                    seen.put(key + ".registration.status", result.getRegistration().getStatus().value());
                    seen.put(key + ".registration.personalCode", result.getRegistration().getPerson().getPersonalCode());
                } else if (result.getOutcome() == RecordOutcome.REFUSED) {
                    seen.put(key + ".fault.code", result.getFault().getCode());
                    seen.put(key + ".fault.field", result.getFault().getField());
                }
            }
            seen.put(key + ".written", String.valueOf(answer.isWritten()));
            seen.put(key + ".accepted", String.valueOf(answer.getAccepted()));
            seen.put(key + ".refused", String.valueOf(answer.getRefused()));
            seen.put(key + ".indexes", String.join(",", indexes));
            seen.put(key + ".outcomes", String.join(",", outcomes));
        }
        UsernameToken.requestId = null;

        for (Map.Entry<String, String> entry : seen.entrySet()) {
            System.out.println(entry.getKey() + "=" + entry.getValue());
        }
    }
}
