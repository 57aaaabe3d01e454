// The converged state both tools are asked for: 2 folders and 11 files in them, one a secret.
import { stringify } from 'yaml';

export const FOLDERS = ['/etc/kubernetes/bench', '/srv/kubernetes/bench'];

export interface BenchFile {
  path: string;
  content: string;
  mode: number;
}

export const FILES: BenchFile[] = Array.from({ length: 11 }, (_, i) => ({
  path: `${FOLDERS[i < 6 ? 0 : 1]}/file-${String(i + 1).padStart(2, '0')}.conf`,
  content: `# managed by the benchmark\n${Array.from({ length: 40 }, (_, j) => `setting_${i}_${j} = value-${i * 100 + j}`).join('\n')}\n`,
  mode: i === 10 ? 0o600 : 0o644,
}));

const octal = (mode: number) => `0${mode.toString(8)}`;

// muster has no folder task: a file task makes its missing parent folders (0755), which is
// what the playbook's two `file: state=directory` tasks do.
export function musterTaskFile(): string {
  return stringify({
    tasks: FILES.map((f, i) => ({ id: `file-${i + 1}`, file: { path: f.path, content: f.content, mode: octal(f.mode), secret: f.mode === 0o600 } })),
  });
}

// Each inventory host has its own root folder (the `root` host variable), as each agent does.
export function ansiblePlaybook(): string {
  return stringify([
    {
      name: 'bench',
      hosts: 'all',
      gather_facts: false,
      tasks: [
        ...FOLDERS.map((d) => ({ name: `folder ${d}`, 'ansible.builtin.file': { path: `{{ root }}${d}`, state: 'directory', mode: '0755' } })),
        ...FILES.map((f) => ({ name: `file ${f.path}`, 'ansible.builtin.copy': { dest: `{{ root }}${f.path}`, content: f.content, mode: octal(f.mode) }, no_log: f.mode === 0o600 })),
      ],
    },
  ]);
}

export function ansibleInventory(hosts: { name: string; root: string }[]): string {
  return stringify({ all: { hosts: Object.fromEntries(hosts.map((h) => [h.name, { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3', root: h.root }])) } });
}

export function ansibleConfig(forks: number, dir: string): string {
  return ['[defaults]', `forks = ${forks}`, 'host_key_checking = False', 'retry_files_enabled = False', `local_tmp = ${dir}/tmp`, 'interpreter_python = /usr/bin/python3', '', '[connection]', 'pipelining = True', ''].join('\n');
}
