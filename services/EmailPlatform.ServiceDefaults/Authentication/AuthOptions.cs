using System.ComponentModel.DataAnnotations;

namespace EmailPlatform.ServiceDefaults.Authentication;

/// <summary>Configuration section <c>Auth</c>.</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary>The admin API key every host accepts (env <c>Auth__BootstrapKey</c>).</summary>
    [Required(ErrorMessage = "Auth:BootstrapKey is required: set it (env Auth__BootstrapKey) to a random key of at least 24 characters.")]
    [MinLength(24, ErrorMessage = "Auth:BootstrapKey must be at least 24 characters long.")]
    public string BootstrapKey { get; set; } = "";
}
