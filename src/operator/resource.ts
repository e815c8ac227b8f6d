// envserve's custom resources: names, the ExposureSet resource's shape, and the CRD objects.
// An ExposureSet carries one environment's cluster exposures (what serve() declares, as plan
// JSON: never env-file source) and the operator writes its status; an ExposurePolicy is ops'
// word on what may be exposed (src/policy/).
import type { Exposure, ServiceSpec } from '../plan/types.js';
import { POLICY_GROUP, POLICY_KIND, POLICY_VERSION } from '../policy/types.js';
import type { OperatorReason } from '../reasons.js';
import { VERSION } from '../version.js';

export const GROUP = POLICY_GROUP;
export const API_VERSION = `${GROUP}/${POLICY_VERSION}`;
export const KIND = 'ExposureSet';
export const PLURAL = 'exposuresets';
export const POLICY_PLURAL = 'exposurepolicies';
export const CRD_NAMES = [`${PLURAL}.${GROUP}`, `${POLICY_PLURAL}.${GROUP}`] as const;
/** On each CRD: the envserve version that wrote it (version skew between CLI, CRDs and operator). */
export const VERSION_ANNOTATION = 'envserve.dev/version';
/** On an ExposureSet submitted through the HTTP API: who asked (the TokenReview's username). */
export const SUBMITTED_BY_ANNOTATION = 'envserve.dev/submitted-by';

export interface ExposureSetSpec {
  /** The environment's name (object names and labels derive from it). */
  env: string;
  /** The env file the plan came from, for messages. */
  source?: string;
  /** The pods the Services select (default: envserve.dev/env=<env>). */
  selector?: Record<string, string>;
  /** The environment's services, for names in automatic Ingress hosts. */
  services?: ServiceSpec[];
  /** The plan's cluster exposures: k8s-port-forward, k8s-service, k8s-ingress. */
  exposures: Exposure[];
}

export interface Condition {
  type: 'Admitted' | 'Ready' | 'Denied';
  status: 'True' | 'False' | 'Unknown';
  reason: OperatorReason;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ExposureStatus {
  id: string;
  kind: Exposure['kind'];
  decision: 'Admitted' | 'Denied';
  /** A stable code: Admitted, PolicyDenied, PolicyConflict, Invalid, NotOwned, Ready, NoEndpoints, LoadBalancerPending, IngressNotAdmitted, Starting. */
  reason: OperatorReason;
  message?: string;
  ready?: boolean;
  url?: string;
  addresses?: string[];
  /** "service/<name>" or "ingress/<name>" in the resource's namespace. */
  object?: string;
  automatic?: boolean;
}

export interface ExposureSetStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  exposures?: ExposureStatus[];
  operatorVersion?: string;
}

export interface ExposureSet {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid?: string; generation?: number; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec: ExposureSetSpec;
  status?: ExposureSetStatus;
}

export function resourcePath(namespace?: string, name?: string): string {
  const base = `/apis/${API_VERSION}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${PLURAL}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

export const policiesPath = () => `/apis/${API_VERSION}/${POLICY_PLURAL}`;

const preserve = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

/** The two CustomResourceDefinitions, annotated with this envserve's version. */
export function crds(): Record<string, unknown>[] {
  const meta = (name: string) => ({ name, labels: { 'app.kubernetes.io/part-of': 'envserve' }, annotations: { [VERSION_ANNOTATION]: VERSION } });
  return [
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: meta(CRD_NAMES[0]),
      spec: {
        group: GROUP,
        scope: 'Namespaced',
        names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'exposureset', shortNames: ['exs'], categories: ['envserve'] },
        versions: [
          {
            name: POLICY_VERSION,
            served: true,
            storage: true,
            subresources: { status: {} },
            additionalPrinterColumns: [
              { name: 'Env', type: 'string', jsonPath: '.spec.env' },
              { name: 'Admitted', type: 'string', jsonPath: '.status.conditions[?(@.type=="Admitted")].status' },
              { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
              { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
              { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            ],
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    required: ['env', 'exposures'],
                    properties: {
                      env: { type: 'string', maxLength: 63 },
                      source: { type: 'string' },
                      selector: { type: 'object', additionalProperties: { type: 'string' } },
                      services: { type: 'array', items: preserve },
                      // Each exposure is checked by the operator (→ Denied with a positioned reason), not here:
                      // an invalid one must never make the whole resource unreadable.
                      exposures: { type: 'array', maxItems: 200, items: preserve },
                    },
                  },
                  status: preserve,
                },
              },
            },
          },
        ],
      },
    },
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: meta(CRD_NAMES[1]),
      spec: {
        group: GROUP,
        scope: 'Cluster',
        names: { kind: POLICY_KIND, listKind: `${POLICY_KIND}List`, plural: POLICY_PLURAL, singular: 'exposurepolicy', shortNames: ['exp'], categories: ['envserve'] },
        versions: [
          {
            name: POLICY_VERSION,
            served: true,
            storage: true,
            additionalPrinterColumns: [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
            // Checked field by field by the operator (an invalid policy denies what it selects).
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: preserve } } },
          },
        ],
      },
    },
  ];
}
