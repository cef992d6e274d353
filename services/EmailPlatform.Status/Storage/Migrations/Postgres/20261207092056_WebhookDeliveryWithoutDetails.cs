using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class WebhookDeliveryWithoutDetails : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // A constant default: PostgreSQL adds the column without rewriting webhook_deliveries, and the deliveries a status
            // service of the previous version writes during a rolling upgrade, which do not name it, get false (sent at once,
            // as that version sends them). The rows already there get false too: a replay of one sent without the details
            // sends the body it was sent with, as before.
            migrationBuilder.AddColumn<bool>(
                name: "without_details",
                table: "webhook_deliveries",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "without_details",
                table: "webhook_deliveries");
        }
    }
}
