// anemos deploy's record in the registry (config report:): the deployment, recorded before
// the deploy environment is composed, with the credential registryAccess() finds; the
// token the registry answers with, bound to this machine and deployment, is the one that
// goes into config.json. Then event 0 at the hand-over, or the reason the deploy stopped
// before it. A registry that is down or refuses costs a warning, never the deploy.

import {registryCall, type RegistryTarget, type RegistryTrust} from '../../adapters/registry-client.js';
import type {FetchedArtifact} from '../../adapters/fetch.js';
import type {ReportTarget} from '../../core/boot-contract.js';
import type {DeployPlan} from '../../core/deploy-plan.js';
import {abortEvent, handoverEvent, normalizeIdentity, planDeploymentRequest, type MachineIdentity, type Report, type ReportEvent} from '../../core/registry/lifecycle.js';
import type {DeployRecorder} from '../deploy.js';
import type {RegistryAccess} from './access.js';

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function deploymentRecorder(o: {plan: DeployPlan; trust: RegistryTrust; who: string; uuid?: string; access: () => Promise<RegistryAccess | undefined>; log: (line: string) => void; now?: () => Date}): DeployRecorder | undefined {
  const registry = o.plan.registry;
  if (!registry) return undefined;
  const now = o.now ?? (() => new Date());
  const identity: MachineIdentity = normalizeIdentity({...(o.uuid ? {uuid: o.uuid} : {}), macs: Object.keys(o.plan.network.interfaces), hostname: o.plan.bootConfig.hostname});
  let own: RegistryTarget | undefined;
  const post = async (event: ReportEvent, what: string) => {
    if (!own) return;
    const report: Report = {machine: identity, deployment: {id: registry.deployment, mode: o.plan.mode, source: 'cli'}, events: [event]};
    try {
      await registryCall(own, 'POST', '/api/v1/reports', report, {timeoutMs: 5000});
    } catch (err) {
      o.log(`WARNING: the registry at ${registry.url} did not take ${what} of deployment ${registry.deployment} (${reason(err)}); the deploy goes on`);
    }
  };
  return {
    async begin(artifacts: FetchedArtifact[]): Promise<ReportTarget | undefined> {
      try {
        const access = await o.access();
        if (!access) {
          o.log(`WARNING: deployment ${registry.deployment} is not recorded at ${registry.url}: there is no credential for it (ANEMOS_REGISTRY_TOKEN, this machine's credential, or report.enroll_token); the deploy goes on, and the deploy environment does not report`);
          return undefined;
        }
        const request = planDeploymentRequest({
          deploymentId: registry.deployment,
          mode: o.plan.mode,
          who: o.who,
          hostname: o.plan.bootConfig.hostname,
          macs: identity.macs,
          ...(identity.uuid ? {uuid: identity.uuid} : {}),
          artifacts: artifacts.map((a) => ({name: a.name, url: a.url, sha256: a.sha256})),
          timeoutSeconds: o.plan.bootConfig.timeout + o.plan.bootConfig.network_timeout,
        });
        const r = await registryCall<{deployment: string; machine: string; token: {token: string; expiresAt: string}}>(access.target, 'POST', '/api/v1/deployments', request, {timeoutMs: 10_000});
        own = {url: registry.url, token: r.token.token, trust: o.trust};
        o.log(`registry: deployment ${registry.deployment} of machine ${r.machine} recorded at ${registry.url} (with ${access.via}); the deploy environment reports with this deployment's own token, valid until ${r.token.expiresAt}`);
        return {url: registry.url, token: r.token.token, deployment: registry.deployment, ...(o.trust.pin ? {pin: o.trust.pin} : {}), ...(o.trust.ca ? {ca: o.trust.ca} : {})};
      } catch (err) {
        o.log(`WARNING: the registry at ${registry.url} did not record deployment ${registry.deployment} (${reason(err)}); the deploy goes on, and the deploy environment does not report`);
        return undefined;
      }
    },
    handover: () => post(handoverEvent({mode: o.plan.mode, who: o.who, at: now().toISOString(), method: o.plan.method}), 'the hand-over'),
    abort: (why: string) => post(abortEvent({at: now().toISOString(), reason: why}), 'the stop'),
  };
}
