// The interop scenario (tests/interop/scenario.py) through the npm 'soap' package: inputs from the
// environment, what it saw to stdout as key=value lines.
//
// Dates go out as 'YYYY-MM-DD' strings: soap 1.13 writes a JavaScript Date as an empty element
// (refused: InvalidMessage). Dates come back as Date objects at UTC midnight; a list of one item
// comes back as the item itself.
'use strict';
const soap = require('soap');

function env(name) {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

const day = (value) => (value instanceof Date ? value.toISOString().slice(0, 10) : String(value));
const list = (value) => (value === undefined || value === null ? [] : [].concat(value));

function registration(child, groupId, number) {
  return {
    personalCode: child,
    groupId,
    firstLearningDate: env('NVS_FIRST_LEARNING_DATE'),
    contract: { typeCode: env('NVS_CONTRACT_TYPE'), date: env('NVS_CONTRACT_DATE'), number },
  };
}

async function main() {
  const seen = {};
  const registry = await soap.createClientAsync(env('NVS_WSDL'));
  registry.setSecurity(new soap.WSSecurity(env('NVS_USERNAME'), env('NVS_PASSWORD'), {
    passwordType: 'PasswordText', hasTimeStamp: false, hasTokenCreated: false, hasNonce: false,
  }));
  const child = env('NVS_CHILD');

  async function fault(key, call) {
    try {
      await call();
      seen[`${key}.code`] = '(no fault)';
    } catch (error) {
      const detail = error.root && error.root.Envelope.Body.Fault.detail;
      if (!detail || !detail.GatewayFault) throw error;
      seen[`${key}.code`] = detail.GatewayFault.code;
      seen[`${key}.field`] = detail.GatewayFault.field || '';
    }
  }

  const [looked] = await registry.LookupPersonAsync({ personalCode: child });
  seen['lookup.personalCode'] = looked.person.personalCode;
  seen['lookup.birthDate'] = day(looked.person.birthDate);

  const [created] = await registry.CreateGroupAsync({
    schoolYear: env('NVS_SCHOOL_YEAR'),
    programCode: env('NVS_PROGRAM'),
    name: env('NVS_GROUP_NAME'),
    subDirectionCode: [env('NVS_SUB_DIRECTION')],
    leader: [{ firstName: env('NVS_LEADER_FIRST_NAME'), lastName: env('NVS_LEADER_LAST_NAME') }],
  });
  const group = created.group;
  seen['group.name'] = group.name;
  seen['group.purpose'] = group.purpose;

  // With a request id, and again with the same one (a retry after a lost answer): the same registration.
  registry.addSoapHeader(`<nvs:requestId xmlns:nvs="urn:lt:mokiniu-registras:nvs-gateway:v1">${env('NVS_REQUEST_ID')}</nvs:requestId>`);
  const [registered] = await registry.RegisterStudentAsync(registration(child, group.groupId, env('NVS_CONTRACT_NUMBER')));
  const [retried] = await registry.RegisterStudentAsync(registration(child, group.groupId, env('NVS_CONTRACT_NUMBER')));
  registry.clearSoapHeaders();
  const registrationId = registered.registration.registrationId;
  seen['registered.status'] = registered.registration.status;
  seen['registered.firstLearningDate'] = day(registered.registration.firstLearningDate);
  seen['retried.sameRegistration'] = String(String(retried.registration.registrationId) === String(registrationId));

  const [corrected] = await registry.CorrectRegistrationAsync({ registrationId, firstLearningDate: env('NVS_CORRECTED_DATE') });
  seen['corrected.firstLearningDate'] = day(corrected.registration.firstLearningDate);

  const [funded] = await registry.MarkFundingAsync({
    registrationId,
    fundingTypeCode: [env('NVS_FUNDING_TYPE')],
    fromMonth: env('NVS_FUNDING_MONTH'),
    toMonth: env('NVS_FUNDING_MONTH'),
  });
  const mark = list(funded.mark)[0];
  seen['funding.fundingTypeCode'] = mark.fundingTypeCode;
  seen['funding.months'] = `${mark.fromMonth}..${mark.toMonth}`;

  const [departed] = await registry.DeregisterStudentAsync({
    registrationId,
    departureDate: env('NVS_DEPARTURE_DATE'),
    departureReasonCode: env('NVS_DEPARTURE_REASON'),
    orderNumber: env('NVS_ORDER_NUMBER'),
  });
  seen['deregistered.status'] = departed.registration.status;
  seen['deregistered.departureDate'] = day(departed.registration.departure.date);

  const [mistaken] = await registry.RegisterStudentAsync(registration(env('NVS_MISTAKEN_CHILD'), group.groupId, env('NVS_CONTRACT_NUMBER')));
  const [cancelled] = await registry.CancelRegistrationAsync({
    registrationId: mistaken.registration.registrationId, reason: env('NVS_CANCEL_REASON'),
  });
  seen['cancelled.status'] = cancelled.registration.status;
  seen['cancelled.reason'] = cancelled.registration.cancellationReason;

  const [student] = await registry.GetStudentAsync({ personalCode: child });
  const registrations = list(student.registration);
  seen['student.registrations'] = String(registrations.length);
  seen['student.status'] = registrations[0].status;

  const [groups] = await registry.ListGroupsAsync({ schoolYear: env('NVS_SCHOOL_YEAR') });
  for (const section of list(groups.section)) {
    for (const listed of list(section.group)) {
      if (String(listed.groupId) === String(group.groupId)) {
        seen['listed.section'] = section.purpose;
        seen['listed.activeLearners'] = String(listed.activeLearners);
      }
    }
  }

  await fault('fault.schema', () => registry.RegisterStudentAsync(registration(child, group.groupId, env('NVS_TOO_LONG_CONTRACT_NUMBER'))));
  await fault('fault.domain', () => registry.RegisterStudentAsync(registration(child, env('NVS_MISSING_GROUP'), env('NVS_CONTRACT_NUMBER'))));

  // A batch with a request id of its own: a new child into the group, and the missing group; then its retry.
  const records = [
    registration(env('NVS_BATCH_CHILD'), group.groupId, env('NVS_BATCH_CONTRACT_NUMBER')),
    registration(child, env('NVS_MISSING_GROUP'), env('NVS_BATCH_CONTRACT_NUMBER')),
  ];
  registry.addSoapHeader(`<nvs:requestId xmlns:nvs="urn:lt:mokiniu-registras:nvs-gateway:v1">${env('NVS_BATCH_REQUEST_ID')}</nvs:requestId>`);
  for (const key of ['batch', 'batch.replayed']) {
    const [answer] = await registry.RegisterStudentsAsync({ record: records });
    const results = list(answer.result);
    const stored = results.find((result) => result.outcome === 'stored');
    const refused = results.find((result) => result.outcome === 'refused');
    seen[`${key}.written`] = String(answer.written);
    seen[`${key}.accepted`] = String(answer.accepted);
    seen[`${key}.refused`] = String(answer.refused);
    seen[`${key}.indexes`] = results.map((result) => result.index).join(',');
    seen[`${key}.outcomes`] = results.map((result) => result.outcome).join(',');
    if (stored) {
      seen[`${key}.registrationId`] = String(stored.registration.registrationId);
      seen[`${key}.registration.status`] = stored.registration.status;
      seen[`${key}.registration.personalCode`] = stored.registration.person.personalCode;
    }
    if (refused) {
      seen[`${key}.fault.code`] = refused.fault.code;
      seen[`${key}.fault.field`] = refused.fault.field;
    }
  }
  registry.clearSoapHeaders();

  for (const [key, value] of Object.entries(seen)) console.log(`${key}=${value}`);
}

main().catch((error) => {
  console.error(error && error.root ? JSON.stringify(error.root.Envelope.Body.Fault) : error);
  process.exit(1);
});
