// anemos deploy's record in the registry: the deployment it hands over, posted right
// before the exec (on the host, or from the workstation with --host).

import {postReport} from '../../adapters/registry-client.js';
import type {FetchedArtifact} from '../../adapters/fetch.js';
import type {DeployPlan} from '../../core/deploy-plan.js';
import {planDeploymentReport} from '../../core/registry/lifecycle.js';

export function deploymentRecorder(o: {plan: DeployPlan; who: string; uuid?: string; log: (line: string) => void}): ((artifacts: FetchedArtifact[]) => Promise<void>) | undefined {
  const target = o.plan.bootConfig.report;
  if (!target) return undefined;
  return async (artifacts) => {
    const report = planDeploymentReport({
      deploymentId: target.deployment,
      mode: o.plan.mode,
      who: o.who,
      at: new Date().toISOString(),
      hostname: o.plan.bootConfig.hostname,
      macs: Object.keys(o.plan.network.interfaces),
      ...(o.uuid ? {uuid: o.uuid} : {}),
      method: o.plan.method,
      artifacts: artifacts.map((a) => ({name: a.name, url: a.url, sha256: a.sha256})),
    });
    const r = await postReport(target, report);
    o.log(r.ok ? `registry: deployment ${target.deployment} recorded at ${target.url}` : `WARNING: the registry at ${target.url} did not record deployment ${target.deployment} (${r.why}); the deploy goes on, and the deploy environment reports to it itself`);
  };
}
