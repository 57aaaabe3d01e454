export { renderEtcd, ETCD_METRICS_PORT } from './etcd.js';
export { renderApiserver } from './kube-apiserver.js';
export { renderControllerManager, podCidrNodeCapacity, CONTROLLER_MANAGER_SECURE_PORT } from './kube-controller-manager.js';
export { renderScheduler, SCHEDULER_SECURE_PORT } from './kube-scheduler.js';
export { renderDnsAddon, dnsScale, corefile, DNS_MAX_REPLICAS, DNS_MIN_REPLICAS, DNS_NODES_PER_REPLICA, DNS_SMALL_CLUSTER_NODES } from './dns.js';
export { validated, type ModelClass } from './pod.js';
