<?php
// The interop scenario (tests/interop/scenario.py) through PHP's SoapClient: inputs from the
// environment, what it saw to stdout as key=value lines. SoapClient has no WS-Security: the
// UsernameToken (PasswordText) header is written as XML and sent as a SoapHeader.
const WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const PASSWORD_TEXT = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText';
const SOAP_ENVELOPE = 'http://schemas.xmlsoap.org/soap/envelope/';
const NVS = 'urn:lt:mokiniu-registras:nvs-gateway:v1';

function env(string $name): string {
    $value = getenv($name);
    if ($value === false) {
        throw new RuntimeException("$name is not set");
    }
    return $value;
}

function security_header(string $username, string $password): SoapHeader {
    $user = htmlspecialchars($username, ENT_XML1);
    $secret = htmlspecialchars($password, ENT_XML1);
    $xml = '<wsse:Security xmlns:wsse="' . WSSE . '" xmlns:soapenv="' . SOAP_ENVELOPE . '" soapenv:mustUnderstand="1">'
        . "<wsse:UsernameToken><wsse:Username>$user</wsse:Username>"
        . '<wsse:Password Type="' . PASSWORD_TEXT . "\">$secret</wsse:Password></wsse:UsernameToken></wsse:Security>";
    return new SoapHeader(WSSE, 'Security', new SoapVar($xml, XSD_ANYXML));
}

// The nvs:requestId header (contract 1.6): a retry with the same one gets the first answer.
function request_id_header(string $requestId): SoapHeader {
    $id = htmlspecialchars($requestId, ENT_XML1);
    return new SoapHeader(NVS, 'requestId', new SoapVar('<nvs:requestId xmlns:nvs="' . NVS . "\">$id</nvs:requestId>", XSD_ANYXML));
}

function registration(string $child, $groupId, string $number): array {
    return [
        'personalCode' => $child,
        'groupId' => $groupId,
        'firstLearningDate' => env('NVS_FIRST_LEARNING_DATE'),  // xs:date: a YYYY-MM-DD string
        'contract' => ['typeCode' => env('NVS_CONTRACT_TYPE'), 'date' => env('NVS_CONTRACT_DATE'), 'number' => $number],
    ];
}

$seen = [];

function fault(string $key, callable $call): void {
    global $seen;
    try {
        $call();
        $seen["$key.code"] = '(no fault)';
    } catch (SoapFault $fault) {
        $detail = $fault->detail->GatewayFault ?? null;
        $seen["$key.code"] = $detail->code ?? '(no GatewayFault detail)';
        $seen["$key.field"] = $detail->field ?? '';
    }
}

$registry = new SoapClient(env('NVS_WSDL'), [
    'soap_version' => SOAP_1_1,
    'exceptions' => true,
    'cache_wsdl' => WSDL_CACHE_NONE,
    // Lists stay arrays when they hold one item (subDirectionCode, section, group, registration...).
    'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
    'connection_timeout' => 10,
    'encoding' => 'UTF-8',
]);
$registry->__setSoapHeaders([security_header(env('NVS_USERNAME'), env('NVS_PASSWORD'))]);
$child = env('NVS_CHILD');

$person = $registry->LookupPerson(['personalCode' => $child])->person;
$seen['lookup.personalCode'] = $person->personalCode;
$seen['lookup.birthDate'] = $person->birthDate;

$group = $registry->CreateGroup([
    'schoolYear' => env('NVS_SCHOOL_YEAR'),
    'programCode' => env('NVS_PROGRAM'),
    'name' => env('NVS_GROUP_NAME'),
    'subDirectionCode' => [env('NVS_SUB_DIRECTION')],
    'leader' => [['firstName' => env('NVS_LEADER_FIRST_NAME'), 'lastName' => env('NVS_LEADER_LAST_NAME')]],
])->group;
$seen['group.name'] = $group->name;
$seen['group.purpose'] = $group->purpose;

// With a request id, and again with the same one (a retry after a lost answer): the same registration.
$security = security_header(env('NVS_USERNAME'), env('NVS_PASSWORD'));
$registry->__setSoapHeaders([$security, request_id_header(env('NVS_REQUEST_ID'))]);
$registered = $registry->RegisterStudent(registration($child, $group->groupId, env('NVS_CONTRACT_NUMBER')))->registration;
$retried = $registry->RegisterStudent(registration($child, $group->groupId, env('NVS_CONTRACT_NUMBER')))->registration;
$registry->__setSoapHeaders([$security]);
$seen['retried.sameRegistration'] = ((string) $retried->registrationId === (string) $registered->registrationId) ? 'true' : 'false';
$seen['registered.status'] = $registered->status;
$seen['registered.firstLearningDate'] = $registered->firstLearningDate;

$corrected = $registry->CorrectRegistration([
    'registrationId' => $registered->registrationId, 'firstLearningDate' => env('NVS_CORRECTED_DATE'),
])->registration;
$seen['corrected.firstLearningDate'] = $corrected->firstLearningDate;

$mark = $registry->MarkFunding([
    'registrationId' => $registered->registrationId,
    'fundingTypeCode' => [env('NVS_FUNDING_TYPE')],
    'fromMonth' => env('NVS_FUNDING_MONTH'),
    'toMonth' => env('NVS_FUNDING_MONTH'),
])->mark[0];
$seen['funding.fundingTypeCode'] = $mark->fundingTypeCode;
$seen['funding.months'] = "$mark->fromMonth..$mark->toMonth";

$departed = $registry->DeregisterStudent([
    'registrationId' => $registered->registrationId,
    'departureDate' => env('NVS_DEPARTURE_DATE'),
    'departureReasonCode' => env('NVS_DEPARTURE_REASON'),
    'orderNumber' => env('NVS_ORDER_NUMBER'),
])->registration;
$seen['deregistered.status'] = $departed->status;
$seen['deregistered.departureDate'] = $departed->departure->date;

$mistaken = $registry->RegisterStudent(registration(env('NVS_MISTAKEN_CHILD'), $group->groupId, env('NVS_CONTRACT_NUMBER')))->registration;
$cancelled = $registry->CancelRegistration(['registrationId' => $mistaken->registrationId, 'reason' => env('NVS_CANCEL_REASON')])->registration;
$seen['cancelled.status'] = $cancelled->status;
$seen['cancelled.reason'] = $cancelled->cancellationReason;

$registrations = $registry->GetStudent(['personalCode' => $child])->registration;
$seen['student.registrations'] = (string) count($registrations);
$seen['student.status'] = $registrations[0]->status;

foreach ($registry->ListGroups(['schoolYear' => env('NVS_SCHOOL_YEAR')])->section as $section) {
    foreach ($section->group ?? [] as $listed) {
        if ($listed->groupId == $group->groupId) {
            $seen['listed.section'] = $section->purpose;
            $seen['listed.activeLearners'] = (string) $listed->activeLearners;
        }
    }
}

fault('fault.schema', fn() => $registry->RegisterStudent(registration($child, $group->groupId, env('NVS_TOO_LONG_CONTRACT_NUMBER'))));
fault('fault.domain', fn() => $registry->RegisterStudent(registration($child, env('NVS_MISSING_GROUP'), env('NVS_CONTRACT_NUMBER'))));

// xs:boolean comes back as a PHP bool.
function boolean_text($value): string {
    return is_bool($value) ? ($value ? 'true' : 'false') : (string) $value;
}

// A batch with a request id of its own: a new child into the group, and the missing group; then its retry.
$records = [
    registration(env('NVS_BATCH_CHILD'), $group->groupId, env('NVS_BATCH_CONTRACT_NUMBER')),
    registration($child, env('NVS_MISSING_GROUP'), env('NVS_BATCH_CONTRACT_NUMBER')),
];
$registry->__setSoapHeaders([$security, request_id_header(env('NVS_BATCH_REQUEST_ID'))]);
foreach (['batch', 'batch.replayed'] as $key) {
    $answer = $registry->RegisterStudents(['record' => $records]);
    $results = $answer->result;
    $seen["$key.written"] = boolean_text($answer->written);
    $seen["$key.accepted"] = (string) $answer->accepted;
    $seen["$key.refused"] = (string) $answer->refused;
    $seen["$key.indexes"] = implode(',', array_map(fn($result) => (string) $result->index, $results));
    $seen["$key.outcomes"] = implode(',', array_map(fn($result) => $result->outcome, $results));
    foreach ($results as $result) {
        if ($result->outcome === 'stored') {
            $seen["$key.registrationId"] = (string) $result->registration->registrationId;
            $seen["$key.registration.status"] = $result->registration->status;
            $seen["$key.registration.personalCode"] = $result->registration->person->personalCode;
        } elseif ($result->outcome === 'refused') {
            $seen["$key.fault.code"] = $result->fault->code;
            $seen["$key.fault.field"] = $result->fault->field;
        }
    }
}
$registry->__setSoapHeaders([$security]);

foreach ($seen as $key => $value) {
    echo "$key=$value\n";
}
