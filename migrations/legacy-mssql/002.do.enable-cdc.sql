-- Change-data capture for the captured tables (SQL Server 2016+, Developer/Enterprise or
-- Standard; the SQL Server Agent must run: its capture job fills the change tables and its
-- cleanup job trims them, by default after 3 days). sys.sp_cdc_enable_db needs sysadmin.
-- Every column is captured (no @captured_column_list): a column the mapping does not name is
-- ignored by it explicitly. @role_name NULL: reading the change tables is not gated by a role;
-- a hospital will name one. One capture instance per table, dbo_<TABLE>.
IF (SELECT is_cdc_enabled FROM sys.databases WHERE name = DB_NAME()) = 0
  EXEC sys.sp_cdc_enable_db;

EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'PATIENT_MASTER', @role_name = NULL, @supports_net_changes = 0;
EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'WARD', @role_name = NULL, @supports_net_changes = 0;
EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'ADMISSION', @role_name = NULL, @supports_net_changes = 0;
EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'LAB_RESULT', @role_name = NULL, @supports_net_changes = 0;
EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'PATIENT_MERGE', @role_name = NULL, @supports_net_changes = 0;
