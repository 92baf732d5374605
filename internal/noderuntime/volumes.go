package noderuntime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/podfiles"
	"github.com/weftnet/weft/internal/shim"
)

// A pod's volumes live under its directory, volumes/<name>, as the kubelet keeps them under
// pods/<uid>/volumes; hostPath volumes are the node's own paths. configMap, secret, downwardAPI
// and projected volumes are written once when the pod starts (or when a restarted runtime
// adopts it): later changes to their sources do not reach a running pod.

// volumesDir is where a pod's volumes are.
func (w *podWorker) volumesDir() string { return filepath.Join(w.dir, "volumes") }

// setUpVolumes makes every volume of the pod ready before its containers start.
func (w *podWorker) setUpVolumes(ctx context.Context) error {
	var errs []error
	for i := range w.pod.Spec.Volumes {
		v := &w.pod.Spec.Volumes[i]
		if err := w.setUpVolume(ctx, v); err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (w *podWorker) setUpVolume(ctx context.Context, v *corev1.Volume) error {
	dir := filepath.Join(w.volumesDir(), v.Name)
	src := v.VolumeSource
	switch {
	case src.EmptyDir != nil:
		return setUpEmptyDir(dir, src.EmptyDir)
	case src.HostPath != nil:
		return checkHostPath(src.HostPath)
	case src.ConfigMap != nil:
		files, err := w.configMapFiles(ctx, src.ConfigMap.Name, src.ConfigMap.Items, podfiles.FileMode(src.ConfigMap.DefaultMode, podfiles.DefaultVolumeMode), isTrue(src.ConfigMap.Optional))
		if err != nil {
			return err
		}
		return writeVolumeFiles(dir, files)
	case src.Secret != nil:
		files, err := w.secretFiles(ctx, src.Secret.SecretName, src.Secret.Items, podfiles.FileMode(src.Secret.DefaultMode, podfiles.DefaultVolumeMode), isTrue(src.Secret.Optional))
		if err != nil {
			return err
		}
		return writeVolumeFiles(dir, files)
	case src.DownwardAPI != nil:
		files, err := podfiles.DownwardAPIFiles(w.pod, src.DownwardAPI.Items, podfiles.FileMode(src.DownwardAPI.DefaultMode, podfiles.DefaultVolumeMode), w.facts(), w.rt.host.capacity())
		if err != nil {
			return err
		}
		return writeVolumeFiles(dir, files)
	case src.Projected != nil:
		files, err := w.projectedFiles(ctx, v.Name, src.Projected)
		if err != nil {
			return err
		}
		return writeVolumeFiles(dir, files)
	}
	return fmt.Errorf("this volume type is not supported by the weft lab's node runtime: use emptyDir, hostPath, configMap, secret, downwardAPI or projected")
}

// setUpEmptyDir makes an emptyDir: a directory every container of the pod shares, world
// writable as the kubelet makes it, or a tmpfs for medium Memory.
func setUpEmptyDir(dir string, ed *corev1.EmptyDirVolumeSource) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	if ed.Medium != corev1.StorageMediumMemory {
		return nil
	}
	if mounted, err := isMountPoint(dir); err != nil || mounted {
		return err
	}
	opts := "mode=0777"
	if ed.SizeLimit != nil && !ed.SizeLimit.IsZero() {
		opts += fmt.Sprintf(",size=%d", ed.SizeLimit.Value())
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs for medium Memory: %w", err)
	}
	return nil
}

// checkHostPath applies the hostPath type: create what *OrCreate asks for, check the rest.
func checkHostPath(hp *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	fi, statErr := os.Stat(hp.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if statErr != nil {
			return os.MkdirAll(hp.Path, 0o755)
		}
		if !fi.IsDir() {
			return fmt.Errorf("hostPath %s exists and is not a directory (type DirectoryOrCreate)", hp.Path)
		}
		return nil
	case corev1.HostPathFileOrCreate:
		if statErr != nil {
			f, err := os.OpenFile(hp.Path, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return fmt.Errorf("hostPath %s (type FileOrCreate): %w", hp.Path, err)
			}
			return f.Close()
		}
		if fi.IsDir() {
			return fmt.Errorf("hostPath %s exists and is a directory (type FileOrCreate)", hp.Path)
		}
		return nil
	}
	if statErr != nil {
		return fmt.Errorf("hostPath %s (type %s): %w", hp.Path, t, statErr)
	}
	want := map[corev1.HostPathType]os.FileMode{
		corev1.HostPathDirectory: os.ModeDir, corev1.HostPathSocket: os.ModeSocket,
		corev1.HostPathCharDev: os.ModeCharDevice | os.ModeDevice, corev1.HostPathBlockDev: os.ModeDevice,
	}
	switch {
	case t == corev1.HostPathFile && !fi.Mode().IsRegular():
		return fmt.Errorf("hostPath %s is not a file (type File)", hp.Path)
	case want[t] != 0 && fi.Mode()&want[t] != want[t]:
		return fmt.Errorf("hostPath %s is not of type %s", hp.Path, t)
	}
	return nil
}

func (w *podWorker) configMapFiles(ctx context.Context, name string, items []corev1.KeyToPath, mode os.FileMode, optional bool) ([]podfiles.VolumeFile, error) {
	cm, err := w.rt.client.CoreV1().ConfigMaps(w.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configMap %q: %w", name, err)
	}
	return podfiles.KeyFiles(podfiles.ConfigMapData(cm), items, mode, optional, fmt.Sprintf("configMap %q", name))
}

func (w *podWorker) secretFiles(ctx context.Context, name string, items []corev1.KeyToPath, mode os.FileMode, optional bool) ([]podfiles.VolumeFile, error) {
	s, err := w.rt.client.CoreV1().Secrets(w.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return podfiles.KeyFiles(data, items, mode, optional, fmt.Sprintf("secret %q", name))
}

// writeVolumeFiles replaces a volume's content with files. The directory itself stays: running
// containers (adopted by a restarted runtime) have it bound in.
func writeVolumeFiles(dir string, files []podfiles.VolumeFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range old {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// volumeBinds are container c's volumeMounts as binds into its root, parents before children.
func (w *podWorker) volumeBinds(c *corev1.Container, env []string) ([]shim.Bind, error) {
	vars := envMap(env)
	var binds []shim.Bind
	for _, m := range c.VolumeMounts {
		v := w.volume(m.Name)
		if v == nil {
			return nil, fmt.Errorf("volumeMounts %q: the pod has no volume of that name", m.Name)
		}
		src, readOnly := filepath.Join(w.volumesDir(), v.Name), m.ReadOnly
		switch {
		case v.HostPath != nil:
			src = v.HostPath.Path
		case v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil:
			readOnly = true // the kubelet mounts these read-only whatever the mount says
		}
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = podfiles.ExpandVars(m.SubPathExpr, vars)
		}
		if sub != "" {
			if filepath.IsAbs(sub) || slices.Contains(strings.Split(sub, "/"), "..") {
				return nil, fmt.Errorf("volumeMounts %q: subPath %q must be a relative path without '..'", m.Name, sub)
			}
			src = filepath.Join(src, sub)
			if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return nil, fmt.Errorf("volumeMounts %q: create subPath %q: %w", m.Name, sub, err)
				}
			}
		}
		binds = append(binds, shim.Bind{Source: src, Target: filepath.Join("/", m.MountPath), ReadOnly: readOnly})
	}
	slices.SortStableFunc(binds, func(a, b shim.Bind) int {
		return strings.Count(a.Target, "/") - strings.Count(b.Target, "/")
	})
	return binds, nil
}

func (w *podWorker) volume(name string) *corev1.Volume {
	for i := range w.pod.Spec.Volumes {
		if w.pod.Spec.Volumes[i].Name == name {
			return &w.pod.Spec.Volumes[i]
		}
	}
	return nil
}

// tearDownVolumes unmounts what the node mounted for the pod (tmpfs emptyDirs) so that its
// directory can go.
func (w *podWorker) tearDownVolumes() error {
	return unmountUnder(w.dir)
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var under []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			under = append(under, f[4])
		}
	}
	slices.SortFunc(under, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, m := range under {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// isMountPoint tells whether dir is the root of a mount: its device differs from its parent's.
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

func isTrue(b *bool) bool { return b != nil && *b }
