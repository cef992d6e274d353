using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class AddressEmailIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // recipients and header_addresses are the largest tables: each index is built concurrently, outside the
            // migration's transaction (a plain CREATE INDEX blocks every write while it reads the table), the new one
            // before the old goes, so that the recipient filter and erasure always have one. The DROP first removes the
            // invalid index a failed concurrent build leaves, when the migration is run again.
            foreach (var table in new[] { "recipients", "header_addresses" })
            {
                migrationBuilder.Sql($"DROP INDEX CONCURRENTLY IF EXISTS ix_{table}_address_email_id;", suppressTransaction: true);
                migrationBuilder.Sql($"CREATE INDEX CONCURRENTLY ix_{table}_address_email_id ON {table} (address, email_id);", suppressTransaction: true);
                migrationBuilder.Sql($"DROP INDEX CONCURRENTLY IF EXISTS ix_{table}_address;", suppressTransaction: true);
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            foreach (var table in new[] { "recipients", "header_addresses" })
            {
                migrationBuilder.Sql($"CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_{table}_address ON {table} (address);", suppressTransaction: true);
                migrationBuilder.Sql($"DROP INDEX CONCURRENTLY IF EXISTS ix_{table}_address_email_id;", suppressTransaction: true);
            }
        }
    }
}
