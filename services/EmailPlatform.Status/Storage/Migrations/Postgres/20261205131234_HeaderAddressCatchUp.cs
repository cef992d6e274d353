using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class HeaderAddressCatchUp : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // False for every email stored so far, and, as the column's default, for those a status service of the
            // previous version records during the rolling upgrade (its inserts do not name the column): the catch-up
            // (HeaderAddressCatchUp) reads them all with MimeKit and marks them.
            // IF NOT EXISTS because the index below is built outside a transaction: if that build fails, this column is
            // already committed and the migration, run again, must get past it.
            migrationBuilder.Sql("ALTER TABLE emails ADD COLUMN IF NOT EXISTS header_addresses_recorded boolean NOT NULL DEFAULT FALSE;");

            // Built concurrently, outside the migration's transaction: a plain CREATE INDEX blocks every write to emails,
            // and so all recording, while it scans the table. A failed concurrent build leaves an invalid index, which
            // the DROP before it removes when the migration is run again.
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_emails_header_addresses_pending;", suppressTransaction: true);
            migrationBuilder.Sql(
                "CREATE INDEX CONCURRENTLY ix_emails_header_addresses_pending ON emails (id) WHERE NOT header_addresses_recorded AND accepted_at IS NOT NULL;",
                suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_emails_header_addresses_pending",
                table: "emails");

            migrationBuilder.DropColumn(
                name: "header_addresses_recorded",
                table: "emails");
        }
    }
}
