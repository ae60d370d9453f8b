-- Anything a principal (user, roles, permissions, API key) is made of bumps the tenant's auth
-- epoch, so remembered principals are reloaded on the next request.
CREATE TRIGGER auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION public.bump_auth_epoch();
CREATE TRIGGER auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION public.bump_auth_epoch();
CREATE TRIGGER auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION public.bump_auth_epoch();
CREATE TRIGGER auth_changed AFTER UPDATE OF status, credentials_changed_at, name, email, timezone OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION public.bump_auth_epoch();
CREATE TRIGGER auth_changed AFTER UPDATE OF revoked_at, expires_at, scopes, user_id OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION public.bump_auth_epoch();
