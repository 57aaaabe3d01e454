// The controller API's shapes, as the controller's own types: a change there fails this typecheck.
export type { NodeJson, NodeState } from '../../controller/fleet/view.ts';
export type { HistoryEntry, JournalEntry, OpenWait, RolloutRecord, WaveRecord } from '../../controller/store/store.ts';
export type { NodeStatusLine, RolloutStatus } from '../../controller/rollout/control.ts';
