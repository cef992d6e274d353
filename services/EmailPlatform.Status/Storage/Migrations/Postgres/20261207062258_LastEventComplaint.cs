using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class LastEventComplaint : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // A constant default: PostgreSQL adds the column without rewriting emails, and the inserts of a status service
            // of the previous version, which do not name it, get false during a rolling upgrade.
            migrationBuilder.AddColumn<bool>(
                name: "last_event_is_complaint",
                table: "emails",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "last_event_is_complaint",
                table: "emails");
        }
    }
}
