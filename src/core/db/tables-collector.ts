// The SSH auto-provisioning collector's tables (reference/cml/NOTES.md §2.1), owned by the collector's
// PHP UI: `foreign`, so labops creates them only on SQLite and in tests, and against MySQL checks that the
// columns it needs exist. servers, server_metrics and alerts follow the real mysqldump DDL; lab_sessions
// and labs have no upstream DDL, so their types are the notes' inferences. Plus labops' own tables.
import type { Migration, TableDef } from './migrations.js';

export const LAB_SESSIONS_COLUMNS = ['id', 'user_id', 'username', 'lab_id', 'namespace', 'access_start', 'access_expiry', 'status', 'session_token', 'plan', 'provisioned', 'created_at'] as const;
export const LABS_COLUMNS = ['id', 'lab_name', 'server_id', 'provision_script_path', 'cleanup_script_path', 'duration_minutes', 'active', 'bastion_host', 'bastion_user', 'bastion_password'] as const;
export const SERVERS_COLUMNS = ['id', 'hostname', 'ip_address', 'ssh_user', 'ssh_port', 'ssh_password', 'enabled'] as const;
export const SERVER_METRICS_COLUMNS = ['id', 'server_id', 'os_version', 'virtualization', 'uptime', 'sshd_status', 'reachable', 'cpu_usage', 'mem_usage', 'disk_usage', 'collected_at'] as const;
export const ALERTS_COLUMNS = ['id', 'server_id', 'alert_type', 'message', 'active', 'notified', 'created_at'] as const;

const COLLECTOR_TABLES: readonly TableDef[] = [
  {
    name: 'servers',
    foreign: true,
    columns: [...SERVERS_COLUMNS, 'added_on'],
    mysql: `CREATE TABLE IF NOT EXISTS servers (
  id INT NOT NULL AUTO_INCREMENT,
  hostname VARCHAR(255) NULL,
  ip_address VARCHAR(50) NULL,
  ssh_user VARCHAR(50) NULL,
  ssh_port INT DEFAULT 22,
  ssh_password VARCHAR(255) NULL,
  enabled TINYINT(1) DEFAULT 1,
  added_on TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  purpose VARCHAR(50) NULL,
  PRIMARY KEY (id)
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS servers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hostname VARCHAR(255) NULL,
  ip_address VARCHAR(50) NULL,
  ssh_user VARCHAR(50) NULL,
  ssh_port INT DEFAULT 22,
  ssh_password VARCHAR(255) NULL,
  enabled TINYINT(1) DEFAULT 1,
  added_on TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  purpose VARCHAR(50) NULL
)`,
    ],
  },
  {
    name: 'labs',
    foreign: true,
    columns: [...LABS_COLUMNS],
    mysql: `CREATE TABLE IF NOT EXISTS labs (
  id INT NOT NULL AUTO_INCREMENT,
  course_id INT NULL,
  lab_name VARCHAR(255) NULL,
  server_id INT NULL,
  provision_script_path VARCHAR(500) NULL,
  cleanup_script_path VARCHAR(500) NULL,
  duration_minutes INT NULL,
  max_concurrent_users INT NULL,
  active TINYINT(1) DEFAULT 1,
  bastion_host VARCHAR(255) NULL,
  bastion_user VARCHAR(100) NULL,
  bastion_password VARCHAR(255) NULL,
  created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (id)
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS labs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  course_id INT NULL,
  lab_name VARCHAR(255) NULL,
  server_id INT NULL,
  provision_script_path VARCHAR(500) NULL,
  cleanup_script_path VARCHAR(500) NULL,
  duration_minutes INT NULL,
  max_concurrent_users INT NULL,
  active TINYINT(1) DEFAULT 1,
  bastion_host VARCHAR(255) NULL,
  bastion_user VARCHAR(100) NULL,
  bastion_password VARCHAR(255) NULL,
  created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)`,
    ],
  },
  {
    name: 'lab_sessions',
    foreign: true,
    columns: [...LAB_SESSIONS_COLUMNS],
    mysql: `CREATE TABLE IF NOT EXISTS lab_sessions (
  id INT NOT NULL AUTO_INCREMENT,
  user_id INT NULL,
  username VARCHAR(255) NULL,
  lab_template_id INT NULL DEFAULT NULL,
  lab_id INT NULL,
  namespace VARCHAR(255) NULL,
  access_start DATETIME NULL,
  access_expiry DATETIME NULL,
  status ENUM('REQUESTED','PROVISIONING','ACTIVE','FAILED','EXPIRED','REVOKED') DEFAULT 'REQUESTED',
  session_token VARCHAR(64) NULL,
  plan ENUM('FREE','PAID') DEFAULT 'FREE',
  provisioned TINYINT(1) DEFAULT 0,
  created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  KEY idx_template (lab_template_id),
  KEY idx_status (status, provisioned)
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS lab_sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INT NULL,
  username VARCHAR(255) NULL,
  lab_template_id INT NULL DEFAULT NULL,
  lab_id INT NULL,
  namespace VARCHAR(255) NULL,
  access_start DATETIME NULL,
  access_expiry DATETIME NULL,
  status TEXT DEFAULT 'REQUESTED' CHECK (status IN ('REQUESTED','PROVISIONING','ACTIVE','FAILED','EXPIRED','REVOKED')),
  session_token VARCHAR(64) NULL,
  plan TEXT DEFAULT 'FREE',
  provisioned TINYINT(1) DEFAULT 0,
  created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)`,
      'CREATE INDEX IF NOT EXISTS idx_lab_sessions_status ON lab_sessions (status, provisioned)',
    ],
  },
  {
    name: 'server_metrics',
    foreign: true,
    columns: [...SERVER_METRICS_COLUMNS],
    mysql: `CREATE TABLE IF NOT EXISTS server_metrics (
  id BIGINT NOT NULL AUTO_INCREMENT,
  server_id INT NOT NULL,
  os_version VARCHAR(255) DEFAULT NULL,
  virtualization VARCHAR(100) DEFAULT NULL,
  uptime VARCHAR(255) DEFAULT NULL,
  sshd_status VARCHAR(20) DEFAULT NULL,
  reachable TINYINT(1) DEFAULT 0,
  cpu_usage FLOAT DEFAULT 0,
  mem_usage FLOAT DEFAULT 0,
  disk_usage FLOAT DEFAULT 0,
  collected_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  KEY server_id (server_id),
  CONSTRAINT server_metrics_ibfk_1 FOREIGN KEY (server_id) REFERENCES servers (id) ON DELETE CASCADE
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS server_metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  server_id INT NOT NULL,
  os_version VARCHAR(255) DEFAULT NULL,
  virtualization VARCHAR(100) DEFAULT NULL,
  uptime VARCHAR(255) DEFAULT NULL,
  sshd_status VARCHAR(20) DEFAULT NULL,
  reachable TINYINT(1) DEFAULT 0,
  cpu_usage FLOAT DEFAULT 0,
  mem_usage FLOAT DEFAULT 0,
  disk_usage FLOAT DEFAULT 0,
  collected_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT server_metrics_ibfk_1 FOREIGN KEY (server_id) REFERENCES servers (id) ON DELETE CASCADE
)`,
      'CREATE INDEX IF NOT EXISTS idx_server_metrics_server ON server_metrics (server_id, collected_at)',
    ],
  },
  {
    name: 'alerts',
    foreign: true,
    columns: [...ALERTS_COLUMNS],
    mysql: `CREATE TABLE IF NOT EXISTS alerts (
  id BIGINT NOT NULL AUTO_INCREMENT,
  server_id INT NOT NULL,
  alert_type VARCHAR(50) DEFAULT NULL,
  message TEXT,
  active TINYINT(1) DEFAULT 1,
  notified TINYINT(1) DEFAULT 0,
  created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  KEY server_id (server_id),
  CONSTRAINT alerts_ibfk_1 FOREIGN KEY (server_id) REFERENCES servers (id) ON DELETE CASCADE
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  server_id INT NOT NULL,
  alert_type VARCHAR(50) DEFAULT NULL,
  message TEXT,
  active TINYINT(1) DEFAULT 1,
  notified TINYINT(1) DEFAULT 0,
  created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT alerts_ibfk_1 FOREIGN KEY (server_id) REFERENCES servers (id) ON DELETE CASCADE
)`,
      'CREATE INDEX IF NOT EXISTS idx_alerts_server ON alerts (server_id, alert_type, active)',
    ],
  },
  {
    // labops' own: every attempt with the script's output, which the collector only printed.
    name: 'labops_session_log',
    columns: ['id', 'session_id', 'phase', 'outcome', 'exit_code', 'message', 'stdout', 'stderr', 'host', 'duration_ms', 'instance', 'created_at'],
    mysql: `CREATE TABLE IF NOT EXISTS labops_session_log (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  session_id INT NOT NULL,
  phase VARCHAR(16) NOT NULL,
  outcome VARCHAR(32) NOT NULL,
  exit_code INT NULL,
  message TEXT,
  stdout MEDIUMTEXT,
  stderr MEDIUMTEXT,
  host VARCHAR(255) NULL,
  duration_ms INT NULL,
  instance VARCHAR(128) NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  KEY idx_session_phase (session_id, phase)
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS labops_session_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id INT NOT NULL,
  phase VARCHAR(16) NOT NULL,
  outcome VARCHAR(32) NOT NULL,
  exit_code INT NULL,
  message TEXT,
  stdout TEXT,
  stderr TEXT,
  host VARCHAR(255) NULL,
  duration_ms INT NULL,
  instance VARCHAR(128) NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
)`,
      'CREATE INDEX IF NOT EXISTS idx_session_phase ON labops_session_log (session_id, phase)',
    ],
  },
  {
    // labops' own: retry/backoff state and the cleanup claim (lab_sessions has no status for "cleaning").
    name: 'labops_session_state',
    columns: ['session_id', 'phase', 'attempts', 'next_attempt_at', 'last_error', 'claimed_by', 'claimed_at', 'updated_at'],
    mysql: `CREATE TABLE IF NOT EXISTS labops_session_state (
  session_id INT NOT NULL,
  phase VARCHAR(16) NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at DATETIME NULL,
  last_error TEXT,
  claimed_by VARCHAR(128) NULL,
  claimed_at DATETIME NULL,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (session_id, phase)
)`,
    sqlite: [
      `CREATE TABLE IF NOT EXISTS labops_session_state (
  session_id INT NOT NULL,
  phase VARCHAR(16) NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  next_attempt_at DATETIME NULL,
  last_error TEXT,
  claimed_by VARCHAR(128) NULL,
  claimed_at DATETIME NULL,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (session_id, phase)
)`,
    ],
  },
];

export const COLLECTOR_MIGRATION: Migration = {
  id: '0007_collector_ssh',
  description: 'SSH collector tables (servers, labs, lab_sessions, server_metrics, alerts; foreign) and labops session log/state',
  tables: COLLECTOR_TABLES,
};
