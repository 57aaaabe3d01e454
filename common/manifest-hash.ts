import { createHash } from 'node:crypto';
import { isMap, parseDocument, type Document } from 'yaml';

// Restart detection for static pods, shared by the agent (which stamps the manifests it writes)
// and the controller (which reads the hashes back from the static-pods probe).

// Set by the agent on every static pod it writes: the hash of the manifest as planned.
export const MANIFEST_HASH_ANNOTATION = 'muster.io/manifest-hash';
// Set by the renderer: a hash of the muster-managed files the pod reads (certificates, keys,
// tokens), so a renewed certificate changes the manifest and the kubelet re-creates the pod.
export const RESTART_FOR_ANNOTATION = 'muster.io/restart-for';

// The planned manifest's bytes as written: a final newline added when missing.
export function plannedBytes(manifest: string): Buffer {
  return Buffer.from(manifest.endsWith('\n') ? manifest : `${manifest}\n`);
}

// sha256 (hex) of the planned manifest's bytes, which never carry the hash annotation (the
// agent refuses a manifest that does): the same value for the agent and whoever reads it back.
export function manifestHash(manifest: string): string {
  return createHash('sha256').update(plannedBytes(manifest)).digest('hex');
}

// The manifest to write: the planned one with metadata.annotations[MANIFEST_HASH_ANNOTATION]
// set; comments and the rest of the layout kept. A manifest that is not a YAML mapping is
// returned as planned (validation refuses it before anything is written). doc: the manifest
// already parsed by the caller (it is changed), so a manifest is parsed once.
export function stampManifest(manifest: string, doc: Document = parseDocument(manifest)): Buffer {
  return plannedBytes(annotated(doc, MANIFEST_HASH_ANNOTATION, manifestHash(manifest)) ?? manifest);
}

// The manifest with metadata.annotations[key] set, comments and layout kept; unchanged when it
// is not a YAML mapping.
export function withAnnotation(manifest: string, key: string, value: string): string {
  return annotated(parseDocument(manifest), key, value) ?? manifest;
}

function annotated(doc: Document, key: string, value: string): string | undefined {
  if (doc.errors.length || !isMap(doc.contents)) return undefined;
  doc.setIn(['metadata', 'annotations', key], value);
  return doc.toString({ lineWidth: 0 });
}

// The annotation a manifest carries, or undefined.
export function annotationOf(manifest: string, key: string): string | undefined {
  const doc = parseDocument(manifest);
  if (doc.errors.length) return undefined;
  const v = doc.getIn(['metadata', 'annotations', key]);
  return typeof v === 'string' ? v : undefined;
}
