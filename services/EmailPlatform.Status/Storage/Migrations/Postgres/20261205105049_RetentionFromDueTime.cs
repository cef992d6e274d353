using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RetentionFromDueTime : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Built concurrently, outside the migration's transaction: a plain DROP INDEX holds an ACCESS EXCLUSIVE lock
            // on emails until the commit, across both builds, and every read and write of the status service would wait
            // for two scans of the table. The replacement is built under another name and renamed once the old one is
            // gone. Each step may be run again after a failure (a failed concurrent build leaves an invalid index, which
            // the DROP before it removes).
            const string Content = "(html IS NOT NULL OR text IS NOT NULL OR cardinality(attachment_names) > 0)";
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_emails_scheduled_with_content_scheduled_at_id;", suppressTransaction: true);
            migrationBuilder.Sql(
                $"CREATE INDEX CONCURRENTLY ix_emails_scheduled_with_content_scheduled_at_id ON emails (scheduled_at, id) WHERE {Content} AND scheduled_at IS NOT NULL;",
                suppressTransaction: true);
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_emails_with_content_accepted_at_id_due;", suppressTransaction: true);
            migrationBuilder.Sql(
                $"CREATE INDEX CONCURRENTLY ix_emails_with_content_accepted_at_id_due ON emails (accepted_at, id) WHERE {Content} AND scheduled_at IS NULL;",
                suppressTransaction: true);
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_emails_with_content_accepted_at_id;", suppressTransaction: true);
            migrationBuilder.Sql("ALTER INDEX ix_emails_with_content_accepted_at_id_due RENAME TO ix_emails_with_content_accepted_at_id;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_emails_scheduled_with_content_scheduled_at_id",
                table: "emails");

            migrationBuilder.DropIndex(
                name: "ix_emails_with_content_accepted_at_id",
                table: "emails");

            migrationBuilder.CreateIndex(
                name: "ix_emails_with_content_accepted_at_id",
                table: "emails",
                columns: new[] { "accepted_at", "id" },
                filter: "html IS NOT NULL OR text IS NOT NULL OR cardinality(attachment_names) > 0");
        }
    }
}
