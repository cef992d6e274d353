using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Ingress.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class OutboxPublishedIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Built concurrently, outside the migration's transaction: a plain CREATE INDEX blocks every write to the
            // outbox, and so every accept, while it scans a table holding days of traffic. A failed concurrent build
            // leaves an invalid index, which the DROP before it removes when the migration is run again.
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_outbox_messages_published_at;", suppressTransaction: true);
            migrationBuilder.Sql(
                "CREATE INDEX CONCURRENTLY ix_outbox_messages_published_at ON outbox_messages (published_at) WHERE published_at IS NOT NULL;",
                suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_outbox_messages_published_at",
                table: "outbox_messages");
        }
    }
}
