using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Delivery.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class FinalRecordsIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_deliveries_updated_at",
                table: "deliveries",
                column: "updated_at",
                filter: "due_at IS NULL");
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
