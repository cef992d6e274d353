using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Delivery.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class FinalRecordsIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Built concurrently, outside the migration's transaction: a plain CREATE INDEX blocks every claim and
            // record of the workers while it scans the table. A failed concurrent build leaves an invalid index, which
            // the DROP before it removes when the migration is run again.
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_deliveries_updated_at;", suppressTransaction: true);
            migrationBuilder.Sql(
                "CREATE INDEX CONCURRENTLY ix_deliveries_updated_at ON deliveries (updated_at) WHERE due_at IS NULL;",
                suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_deliveries_updated_at",
                table: "deliveries");
        }
    }
}
