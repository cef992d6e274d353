using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EmailPlatform.Status.Storage.Migrations.Sqlite
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
            migrationBuilder.AddColumn<bool>(
                name: "header_addresses_recorded",
                table: "emails",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateIndex(
                name: "ix_emails_header_addresses_pending",
                table: "emails",
                column: "id",
                filter: "NOT header_addresses_recorded AND accepted_at IS NOT NULL");
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
